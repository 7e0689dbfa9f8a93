//! HTTP responses for `http.request` consumers.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::layer::LayerMessage;

/// A response that an `http.request` consumer sends on its reply channel.
///
/// Channels 1.x consumers answered with `message.reply_channel.send({"status": 200, "content": ...})`; the
/// same JSON works here (see [`ReplyChannel::send`](crate::ReplyChannel::send)), and this type is the typed
/// form.
///
/// ```
/// use channels_runtime::HttpResponse;
/// let page = HttpResponse::html("<h1>hi</h1>");
/// assert_eq!(page.status, 200);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with this status and body, and no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A 200 response with an HTML body.
    pub fn html(body: impl Into<Bytes>) -> Self {
        HttpResponse::new(200, body).header("content-type", "text/html; charset=utf-8")
    }

    /// A 200 response with a plain-text body.
    pub fn text(body: impl Into<Bytes>) -> Self {
        HttpResponse::new(200, body).header("content-type", "text/plain; charset=utf-8")
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// ASGI's event names for HTTP responses that stream, and the one a streaming or held request's consumer
/// gets when its client leaves.
///
/// A consumer usually sends these through [`ReplyChannel`](crate::ReplyChannel)'s typed methods
/// ([`start_response`](crate::ReplyChannel::start_response), [`send_body`](crate::ReplyChannel::send_body),
/// [`end_body`](crate::ReplyChannel::end_body), [`hold_response`](crate::ReplyChannel::hold_response)); the
/// ASGI dicts work too, through [`ReplyChannel::send`](crate::ReplyChannel::send):
///
/// ```no_run
/// use channels_runtime::{http_events, Message, Result};
/// use serde_json::json;
/// async fn stream(message: Message) -> Result<()> {
///     if message.channel() == http_events::DISCONNECT {
///         return Ok(()); // the client left mid-stream
///     }
///     let reply = &message.reply_channel;
///     reply.send(json!({"type": http_events::RESPONSE_START, "status": 200,
///                       "headers": [["content-type", "text/plain"]]})).await?;
///     reply.send(json!({"type": http_events::RESPONSE_BODY, "body": "one,", "more_body": true})).await?;
///     reply.send(json!({"type": http_events::RESPONSE_BODY, "body": "two"})).await
/// }
/// ```
pub mod http_events {
    /// The client of a streaming (or held) response left before its body ended: the request's consumer
    /// runs once more with this event, then the reply channel closes (and so leaves its groups).
    pub const DISCONNECT: &str = "http.disconnect";
    /// Starts a streaming response: `{"type": "http.response.start", "status": 200, "headers": [[n, v]]}`.
    pub const RESPONSE_START: &str = "http.response.start";
    /// A body chunk: `{"type": "http.response.body", "body": "...", "more_body": true}`; without
    /// `more_body` (or with `false`) it is the last one.
    pub const RESPONSE_BODY: &str = "http.response.body";
    /// Keeps the request open after its consumer returns without answering (long-poll): this crate's own
    /// event, `{"type": "http.response.hold"}`.
    pub const RESPONSE_HOLD: &str = "http.response.hold";
}

/// What a message on an HTTP reply channel asks of the response.
#[derive(Debug)]
pub(crate) enum HttpPart {
    /// A complete response.
    Whole(Arc<HttpResponse>),
    /// The start of a streaming response: status and headers (its `body` is empty).
    Start(HttpResponse),
    /// A body chunk; `true` when more follow.
    Chunk(Bytes, bool),
    /// The end of the body.
    End,
    /// Keep the request open for later events (long-poll).
    Hold,
    /// A typed event for the request's consumer.
    Event(String, Arc<Map<String, Value>>),
}

/// What a message on an HTTP reply channel means, or why it means nothing (to log).
///
/// `Text`/`Binary` are body chunks (a group's `send_text` reaches an open stream as is), `Close` ends the
/// body; ASGI's typed `http.response.*` events are parsed; other typed events go to the consumer.
pub(crate) fn http_part(message: LayerMessage) -> Result<HttpPart, String> {
    match message {
        LayerMessage::Http(response) => Ok(HttpPart::Whole(response)),
        LayerMessage::Text(text) => Ok(HttpPart::Chunk(Bytes::from(text), true)),
        LayerMessage::Binary(bytes) => Ok(HttpPart::Chunk(bytes, true)),
        LayerMessage::Close(_) => Ok(HttpPart::End),
        LayerMessage::Accept | LayerMessage::Reject => {
            Err("a WebSocket accept or reject was sent to an HTTP reply channel".into())
        }
        LayerMessage::Json(map) => {
            let kind = match map.get("type") {
                Some(Value::String(kind)) => kind.clone(),
                _ => {
                    return Err(
                        "a message without a `type` was sent to an HTTP reply channel".into(),
                    );
                }
            };
            match kind.as_str() {
                http_events::RESPONSE_START => start_of(&map).map(HttpPart::Start),
                http_events::RESPONSE_BODY => body_of(&map),
                http_events::RESPONSE_HOLD => Ok(HttpPart::Hold),
                _ => Ok(HttpPart::Event(kind, map)),
            }
        }
    }
}

/// The typed event that starts a streaming response with `head`'s status and headers.
pub(crate) fn start_event(head: &HttpResponse) -> LayerMessage {
    let headers = head
        .headers
        .iter()
        .map(|(n, v)| Value::Array(vec![Value::String(n.clone()), Value::String(v.clone())]))
        .collect();
    let mut map = Map::new();
    map.insert("type".into(), http_events::RESPONSE_START.into());
    map.insert("status".into(), head.status.into());
    map.insert("headers".into(), Value::Array(headers));
    LayerMessage::Json(Arc::new(map))
}

/// The typed event that keeps a request open (long-poll).
pub(crate) fn hold_event() -> LayerMessage {
    let mut map = Map::new();
    map.insert("type".into(), http_events::RESPONSE_HOLD.into());
    LayerMessage::Json(Arc::new(map))
}

fn start_of(map: &Map<String, Value>) -> Result<HttpResponse, String> {
    let status = match map.get("status") {
        None => 200,
        Some(value) => value
            .as_u64()
            .filter(|s| (100..=999).contains(s))
            .map(|s| s as u16)
            .ok_or_else(|| format!("`status` must be an HTTP status code, got {value}"))?,
    };
    let mut head = HttpResponse::new(status, Bytes::new());
    match map.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(headers)) => {
            for header in headers {
                match header.as_array().map(Vec::as_slice) {
                    Some([Value::String(n), Value::String(v)]) => {
                        head.headers.push((n.clone(), v.clone()));
                    }
                    _ => return Err("each header is a [name, value] pair of strings".into()),
                }
            }
        }
        Some(other) => return Err(format!("`headers` must be a list of pairs, got {other}")),
    }
    Ok(head)
}

fn body_of(map: &Map<String, Value>) -> Result<HttpPart, String> {
    let body = match map.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(Bytes::from)
            .ok_or("`body` must be a string or a list of numbers 0-255")?,
        Some(other) => return Err(format!("`body` must be a string or bytes, got {other}")),
    };
    let more = match map.get("more_body") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(more)) => *more,
        Some(other) => return Err(format!("`more_body` must be true or false, got {other}")),
    };
    Ok(HttpPart::Chunk(body, more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json(value: Value) -> LayerMessage {
        LayerMessage::json(value).unwrap()
    }

    #[test]
    fn asgi_streaming_events_parse() {
        let start = http_part(json(json!({"type": "http.response.start", "status": 201,
            "headers": [["content-type", "text/event-stream"]]})))
        .unwrap();
        let HttpPart::Start(head) = start else {
            panic!("{start:?}")
        };
        assert_eq!(head.status, 201);
        assert_eq!(
            head.headers,
            vec![("content-type".into(), "text/event-stream".into())]
        );
        let chunk = http_part(json(
            json!({"type": "http.response.body", "body": "a", "more_body": true}),
        ));
        assert!(matches!(chunk, Ok(HttpPart::Chunk(b, true)) if &b[..] == b"a"));
        let last = http_part(json(
            json!({"type": "http.response.body", "body": [104, 105]}),
        ));
        assert!(matches!(last, Ok(HttpPart::Chunk(b, false)) if &b[..] == b"hi"));
        assert!(matches!(http_part(hold_event()), Ok(HttpPart::Hold)));
        let event = http_part(json(json!({"type": "events.tick", "n": 1})));
        assert!(matches!(event, Ok(HttpPart::Event(kind, _)) if kind == "events.tick"));
    }

    #[test]
    fn the_typed_start_round_trips() {
        let head = HttpResponse::new(200, "").header("cache-control", "no-cache");
        let Ok(HttpPart::Start(back)) = http_part(start_event(&head)) else {
            panic!()
        };
        assert_eq!(back, head);
    }

    #[test]
    fn bad_streaming_events_are_errors() {
        for bad in [
            json!({"type": "http.response.start", "status": 7}),
            json!({"type": "http.response.start", "headers": [["a"]]}),
            json!({"type": "http.response.body", "body": 5}),
            json!({"type": "http.response.body", "more_body": "yes"}),
            json!({"no": "type"}),
        ] {
            assert!(http_part(json(bad.clone())).is_err(), "{bad} was accepted");
        }
        assert!(http_part(LayerMessage::Accept).is_err());
    }
}
