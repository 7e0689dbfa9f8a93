//! The built-in typed events a connection acts on itself, as Channels' protocol server (Daphne) does:
//! a message `{"type": "websocket.send", "text": ..}` (or `"bytes"`), `{"type": "websocket.close",
//! "code": .., "reason": ..}` or `{"type": "websocket.accept"}` that reaches a connection, from a group
//! or sent to its reply channel (by a Rust consumer, or by a Django process over Redis), is written to or
//! closes the socket; it is not dispatched to a consumer.

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::layer::LayerMessage;

/// What a built-in event asks of the connection.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    /// `websocket.accept`: accept the handshake (after it, nothing to do).
    Accept,
    /// `websocket.send`: this text or binary frame (a [`LayerMessage::Text`] or [`LayerMessage::Binary`]).
    Send(LayerMessage),
    /// `websocket.send` with neither `text` nor `bytes`: nothing, as Daphne.
    Nothing,
    /// `websocket.close`: close with this code and reason.
    Close(u16, Utf8Bytes),
}

/// The longest close reason a close frame carries (125 bytes of payload, 2 of them the code).
const MAX_REASON: usize = 123;

/// The action of a built-in event; `None` when `event` is not one (a typed event for a consumer);
/// `Some(Err)` says why a built-in event is malformed.
pub(crate) fn action(event: &Map<String, Value>) -> Option<Result<Action, String>> {
    match event.get("type").and_then(Value::as_str)? {
        "websocket.accept" => Some(Ok(Action::Accept)),
        "websocket.send" => Some(send(event)),
        "websocket.close" => Some(close(event)),
        _ => None,
    }
}

fn send(event: &Map<String, Value>) -> Result<Action, String> {
    let text = event.get("text").filter(|v| !v.is_null());
    let bytes = event.get("bytes").filter(|v| !v.is_null());
    match (text, bytes) {
        (Some(_), Some(_)) => Err("`websocket.send` has both `text` and `bytes`".into()),
        (Some(Value::String(text)), None) => Ok(Action::Send(LayerMessage::Text(Utf8Bytes::from(
            text.as_str(),
        )))),
        (Some(other), None) => Err(format!(
            "`websocket.send`'s `text` is not a string: {other}"
        )),
        (None, Some(bytes)) => binary(bytes).map(|b| Action::Send(LayerMessage::Binary(b))),
        (None, None) => Ok(Action::Nothing),
    }
}

/// `bytes` as Channels' dicts carry it over JSON: a list of numbers 0-255 (how msgpack `bin` arrives from
/// Redis) or a string.
fn binary(value: &Value) -> Result<Bytes, String> {
    match value {
        Value::String(s) => Ok(Bytes::copy_from_slice(s.as_bytes())),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(Bytes::from)
            .ok_or_else(|| "`websocket.send`'s `bytes` is not a list of numbers 0-255".into()),
        other => Err(format!(
            "`websocket.send`'s `bytes` is not a list of numbers 0-255: {other}"
        )),
    }
}

fn close(event: &Map<String, Value>) -> Result<Action, String> {
    let code = match event.get("code") {
        None | Some(Value::Null) => 1000,
        Some(value) => value
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .filter(|&c| crate::asgi::check_close_code(c).is_ok())
            .ok_or_else(|| {
                format!("`websocket.close`'s `code` must be 1000 or 3000-4999, got {value}")
            })?,
    };
    let reason = match event.get("reason") {
        Some(Value::String(reason)) => Utf8Bytes::from(truncate(reason, MAX_REASON)),
        _ => Utf8Bytes::default(),
    };
    Ok(Action::Close(code, reason))
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(value: Value) -> Option<Result<Action, String>> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        action(&map)
    }

    #[test]
    fn send_close_and_accept_are_recognised() {
        assert_eq!(
            of(json!({"type": "websocket.send", "text": "hi"})),
            Some(Ok(Action::Send(LayerMessage::text("hi"))))
        );
        assert_eq!(
            of(json!({"type": "websocket.send", "bytes": [1, 2]})),
            Some(Ok(Action::Send(LayerMessage::Binary(Bytes::from_static(
                &[1, 2]
            )))))
        );
        assert_eq!(
            of(json!({"type": "websocket.send", "text": null})),
            Some(Ok(Action::Nothing))
        );
        assert_eq!(
            of(json!({"type": "websocket.close", "code": 4001, "reason": "bye"})),
            Some(Ok(Action::Close(4001, Utf8Bytes::from_static("bye"))))
        );
        assert_eq!(
            of(json!({"type": "websocket.close"})),
            Some(Ok(Action::Close(1000, Utf8Bytes::default())))
        );
        assert_eq!(
            of(json!({"type": "websocket.accept"})),
            Some(Ok(Action::Accept))
        );
    }

    #[test]
    fn other_types_are_for_consumers() {
        assert_eq!(of(json!({"type": "chat.message", "text": "hi"})), None);
        assert_eq!(of(json!({"text": "no type"})), None);
    }

    #[test]
    fn malformed_builtins_are_errors() {
        for bad in [
            json!({"type": "websocket.send", "text": "a", "bytes": [1]}),
            json!({"type": "websocket.send", "text": 5}),
            json!({"type": "websocket.send", "bytes": [300]}),
            json!({"type": "websocket.close", "code": 1006}),
            json!({"type": "websocket.close", "code": "x"}),
        ] {
            assert!(
                matches!(of(bad.clone()), Some(Err(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let long = "é".repeat(100);
        let Some(Ok(Action::Close(_, reason))) =
            of(json!({"type": "websocket.close", "reason": long}))
        else {
            panic!("not a close")
        };
        assert!(reason.len() <= MAX_REASON && reason.len() >= MAX_REASON - 1);
    }
}
