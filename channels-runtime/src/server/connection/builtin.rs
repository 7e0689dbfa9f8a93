//! The built-in typed events a connection acts on itself, as Channels' protocol server (Daphne) does:
//! a message `{"type": "websocket.send", "text": ..}` (or `"bytes"`), `{"type": "websocket.close",
//! "code": .., "reason": ..}` or `{"type": "websocket.accept", "subprotocol": .., "headers": [..]}` that
//! reaches a connection, from a group or sent to its reply channel (by a Rust consumer, or by a Django
//! process over Redis), is written to or closes the socket; it is not dispatched to a consumer.

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::layer::LayerMessage;

/// What a built-in event asks of the connection.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    /// `websocket.accept`: accept the handshake (after it, nothing to do).
    Accept(Accept),
    /// `websocket.send`: this text or binary frame (a [`LayerMessage::Text`] or [`LayerMessage::Binary`]).
    Send(LayerMessage),
    /// `websocket.send` with neither `text` nor `bytes`: nothing, as Daphne.
    Nothing,
    /// `websocket.close`: close with this code and reason.
    Close(u16, Utf8Bytes),
}

/// What a `websocket.accept` adds to the 101 response (ASGI's `subprotocol` and `headers`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Accept {
    /// The subprotocol chosen, to be one the client offered (`Sec-WebSocket-Protocol`).
    pub(crate) subprotocol: Option<String>,
    /// Extra response headers (a `Set-Cookie`, ...).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// Headers the handshake writes itself, which an accept may not set: the subprotocol goes in
/// `subprotocol`; the others would break the upgrade.
const HANDSHAKE_HEADERS: [&str; 7] = [
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "upgrade",
    "connection",
    "content-length",
    "transfer-encoding",
];

/// The longest close reason a close frame carries (125 bytes of payload, 2 of them the code).
const MAX_REASON: usize = 123;

/// The action of a built-in event; `None` when `event` is not one (a typed event for a consumer);
/// `Some(Err)` says why a built-in event is malformed.
pub(crate) fn action(event: &Map<String, Value>) -> Option<Result<Action, String>> {
    match event.get("type").and_then(Value::as_str)? {
        "websocket.accept" => Some(accept(event)),
        "websocket.send" => Some(send(event)),
        "websocket.close" => Some(close(event)),
        _ => None,
    }
}

fn accept(event: &Map<String, Value>) -> Result<Action, String> {
    let subprotocol = match event.get("subprotocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if valid_token(name) => Some(name.clone()),
        Some(other) => {
            return Err(format!(
                "`websocket.accept`'s `subprotocol` must be a token (letters, digits, `.`, `-`, ...), got {other}"
            ));
        }
    };
    let headers = match event.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(pairs)) => pairs.iter().map(header).collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`websocket.accept`'s `headers` must be a list of [name, value] pairs, got {other}"
            ));
        }
    };
    Ok(Action::Accept(Accept {
        subprotocol,
        headers,
    }))
}

/// One `[name, value]` pair of an accept's `headers`; each side a string or bytes (a list of numbers, as
/// ASGI's byte strings arrive from Django over Redis).
fn header(pair: &Value) -> Result<(HeaderName, HeaderValue), String> {
    let bad = || format!("`websocket.accept`'s `headers` must be [name, value] pairs, got {pair}");
    let Some([name, value]) = pair.as_array().map(Vec::as_slice) else {
        return Err(bad());
    };
    let bytes = |v: &Value| match v {
        Value::String(s) => Ok(Bytes::copy_from_slice(s.as_bytes())),
        other => binary(other).map_err(|_| bad()),
    };
    let name = HeaderName::from_bytes(&bytes(name)?)
        .map_err(|_| format!("`websocket.accept`: {name} is not a header name"))?;
    if HANDSHAKE_HEADERS.contains(&name.as_str()) {
        return Err(format!(
            "`websocket.accept`: the handshake sets `{name}` itself (a subprotocol goes in `subprotocol`)"
        ));
    }
    // `HeaderValue` refuses control characters (but tab), so none can reach the response.
    let value = HeaderValue::from_maybe_shared(bytes(value)?)
        .map_err(|_| format!("`websocket.accept`: the value of `{name}` has control characters"))?;
    Ok((name, value))
}

/// An RFC 7230 token, what a subprotocol name is (RFC 6455 4.1).
pub(crate) fn valid_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
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
            Some(Ok(Action::Accept(Accept::default())))
        );
    }

    #[test]
    fn accept_carries_a_subprotocol_and_headers() {
        let Some(Ok(Action::Accept(accept))) = of(json!({
            "type": "websocket.accept",
            "subprotocol": "chat.v2",
            "headers": [["set-cookie", "a=1"], [[120, 45, 98], [111, 107]]],
        })) else {
            panic!("not an accept")
        };
        assert_eq!(accept.subprotocol.as_deref(), Some("chat.v2"));
        assert_eq!(accept.headers.len(), 2);
        assert_eq!(accept.headers[0].0, "set-cookie");
        assert_eq!(accept.headers[0].1, "a=1");
        assert_eq!(accept.headers[1].0, "x-b");
        assert_eq!(accept.headers[1].1, "ok");
    }

    #[test]
    fn malformed_accepts_are_errors() {
        for bad in [
            json!({"type": "websocket.accept", "subprotocol": 5}),
            json!({"type": "websocket.accept", "subprotocol": "two words"}),
            json!({"type": "websocket.accept", "subprotocol": ""}),
            json!({"type": "websocket.accept", "headers": "x"}),
            json!({"type": "websocket.accept", "headers": [["x"]]}),
            json!({"type": "websocket.accept", "headers": [["bad name", "v"]]}),
            json!({"type": "websocket.accept", "headers": [["x", "a\u{1}b"]]}),
            json!({"type": "websocket.accept", "headers": [["Sec-WebSocket-Protocol", "chat"]]}),
            json!({"type": "websocket.accept", "headers": [["upgrade", "h2c"]]}),
        ] {
            assert!(
                matches!(of(bad.clone()), Some(Err(_))),
                "{bad} was accepted"
            );
        }
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
