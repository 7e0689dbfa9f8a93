//! What a channel layer carries: [`LayerMessage`].

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::http::HttpResponse;

/// One message on a channel layer.
///
/// Channels passes Python dicts; most of them are ASGI `websocket.send` messages (`{"text": ...}`,
/// `{"bytes": ...}`, `{"accept": True}`, `{"close": True}`). Those get their own variants so that a group
/// message is encoded once and shared by every member: cloning a `LayerMessage` is O(1) (the payloads are
/// reference-counted [`Utf8Bytes`]/[`Bytes`]/[`Arc`]), never a copy of the text per recipient. Anything else,
/// such as a custom channel's payload or a typed event (`{"type": "chat.message", ...}`), travels as
/// [`LayerMessage::Json`].
#[derive(Debug, Clone, PartialEq)]
pub enum LayerMessage {
    /// Accept a pending WebSocket handshake (`{"accept": True}`).
    Accept,
    /// Refuse a pending WebSocket handshake with HTTP 403 (`{"accept": False}`, or `close` before accepting).
    Reject,
    /// A text frame (`{"text": ...}`).
    Text(Utf8Bytes),
    /// A binary frame (`{"bytes": ...}`).
    Binary(Bytes),
    /// Close the WebSocket with this code (`{"close": True}` is 1000, `{"close": 4001}` is 4001).
    Close(u16),
    /// An HTTP response to an `http.request` consumer's reply channel.
    Http(Arc<HttpResponse>),
    /// Any other message: a custom channel's payload, or an event with a `type` key.
    Json(Arc<Map<String, Value>>),
}

impl LayerMessage {
    /// A text frame message.
    ///
    /// ```
    /// use channels_runtime::layer::LayerMessage;
    /// let m = LayerMessage::text("hello");
    /// assert_eq!(m, LayerMessage::Text("hello".into()));
    /// ```
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        LayerMessage::Text(text.into())
    }

    /// A message made of a JSON object, as sent to custom channels.
    ///
    /// Returns `None` unless `value` is an object, because Channels' messages are dicts.
    pub fn json(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(LayerMessage::Json(Arc::new(map))),
            _ => None,
        }
    }

    /// The `type` key of a [`LayerMessage::Json`] message, if it has one.
    pub fn event_type(&self) -> Option<&str> {
        match self {
            LayerMessage::Json(map) => map.get("type").and_then(Value::as_str),
            _ => None,
        }
    }
}
