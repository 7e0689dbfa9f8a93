//! Translation of Channels' message dicts (ASGI keys) into [`LayerMessage`]s.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::layer::LayerMessage;
use crate::{Error, HttpResponse, Result};

const REPLY_KEYS: &str =
    "`text`, `bytes`, `accept` and `close` (WebSocket) or `status`, `headers` and `content` (HTTP)";

/// Splits a reply dict into the layer messages it stands for, in Channels' order: accept, data, close.
///
/// A dict with a `type` is an event, sent whole, as Channels 2+'s `channel_layer.send(channel_name, ..)`:
/// the connection acts on the built-in ones (`websocket.send`, `websocket.close`, `websocket.accept`) and
/// dispatches the others to its consumer's handler.
pub(crate) fn reply_messages(message: Value) -> Result<Vec<LayerMessage>> {
    let Value::Object(map) = message else {
        return Err(Error::InvalidMessage(format!(
            "a message is a JSON object with {REPLY_KEYS}; got {message}"
        )));
    };
    match map.get("type") {
        Some(Value::String(_)) => return Ok(vec![LayerMessage::Json(Arc::new(map))]),
        Some(other) => return Err(invalid(format!("`type` must be a string, got {other}"))),
        None => {}
    }
    if map.contains_key("status") {
        return Ok(vec![http_response(map)?]);
    }
    let mut out = Vec::with_capacity(2);
    let mut accept = None;
    let mut data = None;
    let mut close = None;
    for (key, value) in map {
        match key.as_str() {
            "accept" => match value {
                Value::Bool(b) => accept = Some(b),
                other => {
                    return Err(invalid(format!(
                        "`accept` must be true or false, got {other}"
                    )));
                }
            },
            // ASGI: `text` and `bytes` may both be present when one of them is null (absent).
            "text" | "bytes" if value.is_null() => {}
            "text" => {
                if data.is_some() {
                    return Err(invalid(
                        "`text` and `bytes` can't be sent in one message".into(),
                    ));
                }
                match value {
                    Value::String(s) => data = Some(LayerMessage::Text(s.into())),
                    other => return Err(invalid(format!("`text` must be a string, got {other}"))),
                }
            }
            "bytes" => {
                if data.is_some() {
                    return Err(invalid(
                        "`text` and `bytes` can't be sent in one message".into(),
                    ));
                }
                data = Some(LayerMessage::Binary(json_bytes(value)?));
            }
            "close" => match value {
                Value::Bool(true) => close = Some(1000),
                Value::Bool(false) => {}
                Value::Number(n) => {
                    let code = n
                        .as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .ok_or_else(|| invalid(format!("`close` code {n} is out of range")))?;
                    check_close_code(code)?;
                    close = Some(code);
                }
                other => {
                    return Err(invalid(format!(
                        "`close` must be true, false or a code, got {other}"
                    )));
                }
            },
            other => {
                return Err(invalid(format!(
                    "unknown key `{other}`; a reply message takes {REPLY_KEYS}"
                )));
            }
        }
    }
    match accept {
        Some(false) if data.is_some() => {
            return Err(invalid(
                "`accept: false` refuses the connection; it can't also send data".into(),
            ));
        }
        Some(false) => out.push(LayerMessage::Reject),
        Some(true) => out.push(LayerMessage::Accept),
        None => {}
    }
    out.extend(data);
    if let Some(code) = close {
        out.push(LayerMessage::Close(code));
    }
    if out.is_empty() {
        return Err(invalid(format!(
            "empty message; it needs one of {REPLY_KEYS}"
        )));
    }
    Ok(out)
}

/// Turns a group message dict into one layer message: WebSocket keys, or a typed event (`type` key).
pub(crate) fn group_message(message: Value) -> Result<LayerMessage> {
    if let Value::Object(map) = &message
        && map.contains_key("type")
    {
        let Value::Object(map) = message else {
            unreachable!()
        };
        return Ok(LayerMessage::Json(Arc::new(map)));
    }
    let mut parts = reply_messages(message)?;
    if parts.len() != 1 {
        return Err(invalid(
            "a group message carries one thing: `text`, `bytes` or `close`; send twice for more"
                .into(),
        ));
    }
    Ok(parts.remove(0))
}

fn http_response(map: Map<String, Value>) -> Result<LayerMessage> {
    let mut response = HttpResponse::new(200, Bytes::new());
    for (key, value) in map {
        match key.as_str() {
            "status" => {
                response.status = value
                    .as_u64()
                    .filter(|s| (100..=999).contains(s))
                    .map(|s| s as u16)
                    .ok_or_else(|| {
                        invalid(format!("`status` must be an HTTP status code, got {value}"))
                    })?;
            }
            "content" => {
                response.body = match value {
                    Value::String(s) => Bytes::from(s),
                    other => json_bytes(other)?,
                }
            }
            "headers" => {
                let Value::Array(headers) = value else {
                    return Err(invalid(
                        "`headers` must be a list of [name, value] pairs".into(),
                    ));
                };
                for header in headers {
                    match header {
                        Value::Array(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
                            (Value::String(n), Value::String(v)) => {
                                response.headers.push((n.clone(), v.clone()));
                            }
                            _ => {
                                return Err(invalid(
                                    "each header is a [name, value] pair of strings".into(),
                                ));
                            }
                        },
                        _ => {
                            return Err(invalid(
                                "each header is a [name, value] pair of strings".into(),
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(invalid(format!(
                    "unknown key `{other}`; an HTTP response takes `status`, `headers` and `content`"
                )));
            }
        }
    }
    Ok(LayerMessage::Http(Arc::new(response)))
}

fn json_bytes(value: Value) -> Result<Bytes> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(Bytes::from)
            .ok_or_else(|| invalid("`bytes` must be a list of numbers 0-255".into())),
        Value::String(s) => Ok(Bytes::from(s)),
        other => Err(invalid(format!(
            "`bytes` must be a list of numbers 0-255, got {other}"
        ))),
    }
}

/// A close code a server may send: 1000, or an application code 3000-4999 (RFC 6455 section 7.4).
pub(crate) fn check_close_code(code: u16) -> Result<()> {
    if code == 1000 || (3000..=4999).contains(&code) {
        Ok(())
    } else {
        Err(invalid(format!(
            "close code {code} can't be sent by an application; use 1000 or 3000-4999"
        )))
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidMessage(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_reply_forms() {
        assert_eq!(
            reply_messages(json!({"text": "hi"})).unwrap(),
            vec![LayerMessage::text("hi")]
        );
        assert_eq!(
            reply_messages(json!({"accept": true})).unwrap(),
            vec![LayerMessage::Accept]
        );
        assert_eq!(
            reply_messages(json!({"close": true, "text": "bye"})).unwrap(),
            vec![LayerMessage::text("bye"), LayerMessage::Close(1000)]
        );
        assert_eq!(
            reply_messages(json!({"accept": false})).unwrap(),
            vec![LayerMessage::Reject]
        );
    }

    #[test]
    fn bad_replies_are_errors() {
        for bad in [
            json!({"txt": "typo"}),
            json!({"text": "a", "bytes": [1]}),
            json!({"accept": false, "text": "a"}),
            json!({"close": 1006}),
            json!({}),
            json!("text"),
            json!({"text": 5}),
        ] {
            assert!(
                matches!(reply_messages(bad.clone()), Err(Error::InvalidMessage(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn http_reply() {
        let parts = reply_messages(
            json!({"status": 404, "headers": [["content-type", "text/plain"]], "content": "nope"}),
        )
        .unwrap();
        let LayerMessage::Http(response) = &parts[0] else {
            panic!("not http: {parts:?}")
        };
        assert_eq!(response.status, 404);
        assert_eq!(&response.body[..], b"nope");
    }

    #[test]
    fn group_events_keep_their_payload() {
        let m = group_message(json!({"type": "chat.message", "text": "x"})).unwrap();
        assert_eq!(m.event_type(), Some("chat.message"));
        assert!(group_message(json!({"accept": true, "text": "x"})).is_err());
    }
}
