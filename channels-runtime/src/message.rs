//! [`Message`]: what a consumer receives, with ASGI's keys.

use std::ops::Index;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::reply::ReplyChannel;

/// Event names that Channels defines for WebSocket and HTTP (from `channels-names`, shared with the macros).
pub use channels_names::events;

/// What stays the same for every event of one connection: ASGI's connection scope.
#[derive(Debug, Default)]
pub struct Scope {
    /// The request path, percent-decoded, without the query string (`/chat/café/`): what routes match.
    pub path: Arc<str>,
    /// The path as the client sent it, still percent-encoded (`/chat/caf%C3%A9/`).
    pub raw_path: Arc<str>,
    /// The raw query string, without `?`.
    pub query_string: Arc<str>,
    /// Request headers, lower-cased names, in order.
    pub headers: Vec<(String, String)>,
    /// The HTTP method (`GET` for WebSockets).
    pub method: String,
    /// The peer's address, when known.
    pub client: Option<std::net::SocketAddr>,
    /// The connection's session (Channels' `channel_session`).
    pub session: crate::Session,
}

/// The content of a message, readable as typed fields or indexed like Channels' `message.content` dict.
///
/// Indexing (`content["text"]`) builds the JSON view on first use only, so code that sticks to the typed
/// accessors pays nothing for it.
///
/// # A missing key
///
/// Python's `message.content["missing"]` raises `KeyError`. Rust's indexing can't fail without a panic,
/// and a key a peer left out must never panic the server, so `content["missing"]` is `null`, as in
/// `serde_json`. Where the Python relied on the `KeyError`, write [`try_get`](Self::try_get)`("key")?`:
/// the consumer then fails with [`KeyError`], which closes the connection with 1011 in Channels 4's
/// error mode and is logged and survived in Channels 1.x's (see
/// [`ErrorMode`](crate::routing::ErrorMode)), as the `KeyError` was. Python's `content.get("key")` is
/// [`get`](Self::get), an `Option`.
///
/// ```
/// use channels_runtime::Message;
/// let message = Message::from_text("hello");
/// assert_eq!(message.content["text"], "hello");
/// assert_eq!(message.content.text(), Some("hello"));
/// assert!(message.content["missing"].is_null());
/// assert_eq!(message.content.get("missing"), None);
/// assert_eq!(message.content.try_get("missing").unwrap_err().to_string(), "KeyError: the message has no key \"missing\"");
/// ```
#[derive(Debug, Default)]
pub struct Content {
    scope: Arc<Scope>,
    order: u64,
    text: Option<Utf8Bytes>,
    bytes: Option<Bytes>,
    code: Option<u16>,
    extra: Option<Arc<Map<String, Value>>>,
    reply_channel: Option<Arc<str>>,
    /// The demultiplexer stream this message came through, if any.
    stream: Option<Arc<str>>,
    json: OnceLock<Value>,
}

/// Python's `KeyError`: [`Content::try_get`] found no such key in the message.
///
/// Returned with `?` from a consumer, it is the consumer's failure (see
/// [`ErrorMode`](crate::routing::ErrorMode)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("KeyError: the message has no key {key:?}")]
pub struct KeyError {
    /// The key that was asked for.
    pub key: String,
}

impl Content {
    /// The value of `key` in Channels' dict, or `None` (Python's `content.get("key")`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_json().get(key)
    }

    /// The value of `key` in Channels' dict, or [`KeyError`] (Python's `content["key"]`): use it with
    /// `?` where the Python let a missing key fail the consumer.
    ///
    /// ```
    /// use channels_runtime::{Message, Result};
    /// fn text_of(message: &Message) -> Result<String> {
    ///     Ok(message.content.try_get("text")?.as_str().unwrap_or_default().to_owned())
    /// }
    /// assert_eq!(text_of(&Message::from_text("hi")).unwrap(), "hi");
    /// ```
    pub fn try_get(&self, key: &str) -> Result<&Value, KeyError> {
        self.get(key).ok_or_else(|| KeyError {
            key: key.to_owned(),
        })
    }

    /// The text of a `websocket.receive` text frame.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The text, as shared bytes that can be sent on without a copy.
    pub fn text_bytes(&self) -> Option<&Utf8Bytes> {
        self.text.as_ref()
    }

    /// The payload of a binary frame, or an HTTP request body.
    pub fn bytes(&self) -> Option<&Bytes> {
        self.bytes.as_ref()
    }

    /// The request path (`/chat/lobby/`).
    pub fn path(&self) -> &str {
        &self.scope.path
    }

    /// The query string, without `?`.
    pub fn query_string(&self) -> &str {
        &self.scope.query_string
    }

    /// Request headers (lower-case names).
    pub fn headers(&self) -> &[(String, String)] {
        &self.scope.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.scope
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The HTTP method of the request behind this connection.
    pub fn method(&self) -> &str {
        &self.scope.method
    }

    /// The peer's address.
    pub fn client(&self) -> Option<std::net::SocketAddr> {
        self.scope.client
    }

    /// The message's position on its connection: 0 for connect, then 1, 2, ... (ASGI's `order`).
    pub fn order(&self) -> u64 {
        self.order
    }

    /// The close code of a `websocket.disconnect`.
    pub fn code(&self) -> Option<u16> {
        self.code
    }

    /// The JSON payload of a custom channel message or typed event.
    pub fn payload(&self) -> Option<&Map<String, Value>> {
        self.extra.as_deref()
    }

    /// The whole content as Channels' dict.
    pub fn as_json(&self) -> &Value {
        self.json.get_or_init(|| self.build_json())
    }

    fn build_json(&self) -> Value {
        let mut map = match &self.extra {
            Some(extra) => (**extra).clone(),
            None => Map::new(),
        };
        if self.extra.is_none() {
            map.insert("path".into(), Value::from(&*self.scope.path));
            map.insert("raw_path".into(), Value::from(&*self.scope.raw_path));
            map.insert(
                "query_string".into(),
                Value::from(&*self.scope.query_string),
            );
            map.insert(
                "headers".into(),
                Value::Array(
                    self.scope
                        .headers
                        .iter()
                        .map(|(n, v)| {
                            Value::Array(vec![Value::from(n.as_str()), Value::from(v.as_str())])
                        })
                        .collect(),
                ),
            );
            map.insert("method".into(), Value::from(self.scope.method.as_str()));
            map.insert("order".into(), Value::from(self.order));
        }
        if let Some(text) = &self.text {
            map.insert("text".into(), Value::from(text.as_str()));
        }
        if let Some(bytes) = &self.bytes {
            map.insert(
                "bytes".into(),
                Value::Array(bytes.iter().map(|b| Value::from(*b)).collect()),
            );
        }
        if let Some(code) = self.code {
            map.insert("code".into(), Value::from(code));
        }
        if let Some(reply) = &self.reply_channel {
            map.insert("reply_channel".into(), Value::from(&**reply));
        }
        if let Some(stream) = &self.stream {
            map.insert("stream".into(), Value::from(&**stream));
        }
        Value::Object(map)
    }
}

impl Index<&str> for Content {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        &self.as_json()[key]
    }
}

/// `message["text"]` is `message.content["text"]`: Channels 1.x's `Message` indexes like its content
/// dict, and ported code keeps the habit.
///
/// A missing key is `null` here too; see [`Content`] for `get` and `try_get`.
///
/// ```
/// use channels_runtime::Message;
/// let message = Message::from_text("hi");
/// assert_eq!(message["text"], message.content["text"]);
/// assert!(message["missing"].is_null());
/// ```
impl Index<&str> for Message {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        &self.content[key]
    }
}

/// A message handed to a consumer: one event on one channel.
///
/// Field names follow Channels: `message.reply_channel` talks back to the client, `message.content` holds
/// the event's keys (`text`, `bytes`, `path`, `query_string`, `headers`, `order`, `code`).
///
/// ```
/// use channels_runtime::Message;
/// let message = Message::from_text("ping");
/// assert_eq!(message.channel(), "websocket.receive");
/// assert_eq!(message.text(), Some("ping"));
/// ```
#[derive(Debug)]
pub struct Message {
    /// Where replies to this message go: the client's connection, for WebSocket and HTTP events.
    pub reply_channel: ReplyChannel,
    /// The event's keys.
    pub content: Content,
    channel: Arc<str>,
}

impl Message {
    /// The channel (event name) this message arrived on: `websocket.receive`, `thumbnails.generate`, ...
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Shortcut for `message.content.text()`.
    pub fn text(&self) -> Option<&str> {
        self.content.text()
    }

    /// Shortcut for `message.content.bytes()`.
    pub fn bytes(&self) -> Option<&Bytes> {
        self.content.bytes()
    }

    /// Shortcut for `message.content.path()`.
    pub fn path(&self) -> &str {
        self.content.path()
    }

    /// Shortcut for `message.content.get(key)`: `None` for a missing key (Python's `dict.get`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.content.get(key)
    }

    /// Shortcut for `message.content.try_get(key)`: [`KeyError`] for a missing key (Python's
    /// `message.content["key"]`).
    pub fn try_get(&self, key: &str) -> Result<&Value, KeyError> {
        self.content.try_get(key)
    }

    /// The stream this message came through, when a demultiplexer handed it to its consumer (Channels
    /// 1.x's `multiplexer` keyword argument): replies sent through it are wrapped as `{"stream": ..,
    /// "payload": ..}`.
    pub fn multiplexer(&self) -> Option<crate::routing::Multiplexer> {
        let stream = self.content.stream.clone()?;
        Some(crate::routing::Multiplexer::new(
            stream,
            self.reply_channel.clone(),
        ))
    }

    /// The same event handed on to a demultiplexer's `stream`, with `text` (the stream's payload, as
    /// JSON) in place of the frame's.
    pub(crate) fn for_stream(&self, stream: &Arc<str>, text: Option<Utf8Bytes>) -> Message {
        let content = &self.content;
        Message {
            reply_channel: self.reply_channel.clone(),
            content: Content {
                scope: content.scope.clone(),
                order: content.order,
                text: text.or_else(|| content.text.clone()),
                bytes: content.bytes.clone(),
                code: content.code,
                extra: content.extra.clone(),
                reply_channel: content.reply_channel.clone(),
                stream: Some(stream.clone()),
                json: OnceLock::new(),
            },
            channel: self.channel.clone(),
        }
    }

    /// The connection's session (Channels' `message.channel_session`), shared by all its messages.
    pub fn channel_session(&self) -> &crate::Session {
        &self.content.scope.session
    }

    /// A `websocket.receive` text message with no connection behind it, for unit tests of consumers.
    pub fn from_text(text: impl Into<Utf8Bytes>) -> Message {
        MessageBuilder::new(crate::message::events::WEBSOCKET_RECEIVE, Arc::default())
            .text(text.into())
            .build(ReplyChannel::none())
    }
}

/// Builds messages; used by the server, workers and the testing helpers.
#[derive(Debug)]
pub(crate) struct MessageBuilder {
    channel: Arc<str>,
    content: Content,
}

impl MessageBuilder {
    pub(crate) fn new(channel: impl Into<Arc<str>>, scope: Arc<Scope>) -> Self {
        MessageBuilder {
            channel: channel.into(),
            // Every field spelled out: `..Content::default()` would build and drop a default `Arc<Scope>`
            // for every message.
            content: Content {
                scope,
                order: 0,
                text: None,
                bytes: None,
                code: None,
                extra: None,
                reply_channel: None,
                stream: None,
                json: OnceLock::new(),
            },
        }
    }

    pub(crate) fn order(mut self, order: u64) -> Self {
        self.content.order = order;
        self
    }

    pub(crate) fn text(mut self, text: Utf8Bytes) -> Self {
        self.content.text = Some(text);
        self
    }

    pub(crate) fn bytes(mut self, bytes: Bytes) -> Self {
        self.content.bytes = Some(bytes);
        self
    }

    pub(crate) fn code(mut self, code: u16) -> Self {
        self.content.code = Some(code);
        self
    }

    pub(crate) fn payload(mut self, payload: Arc<Map<String, Value>>) -> Self {
        self.content.extra = Some(payload);
        self
    }

    pub(crate) fn build(mut self, reply_channel: ReplyChannel) -> Message {
        self.content.reply_channel = reply_channel.shared_name();
        Message {
            reply_channel,
            content: self.content,
            channel: self.channel,
        }
    }
}
