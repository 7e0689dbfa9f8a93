//! [`Message`]: what a consumer receives, with ASGI's keys.

use std::any::Any;
use std::borrow::Cow;
use std::ops::Index;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::outbound::Name;
use crate::reply::ReplyChannel;

/// Event names that Channels defines for WebSocket and HTTP (from `channels-names`, shared with the macros).
pub use channels_names::events;

/// What stays the same for every event of one connection: ASGI's connection scope.
///
/// Besides the request's fields it carries what middleware attached before any consumer ran (see
/// [`auth`](crate::auth)): the user ([`set_user`](Self::set_user), Channels' `scope["user"]`) and the web
/// session ([`http_session`](Self::http_session), Channels' `scope["session"]`); and it parses the
/// cookies ([`cookies`](Self::cookies), Channels' `scope["cookies"]`) and the query string
/// ([`query_pairs`](Self::query_pairs)) on first use.
///
/// ```
/// use channels_runtime::Scope;
/// let mut scope = Scope::default();
/// scope.headers.push("cookie", "sessionid=abc; theme=dark");
/// scope.query_string = "token=s3cret&x=1".into();
/// assert_eq!(scope.cookie("sessionid"), Some("abc"));
/// assert_eq!(scope.query("token"), Some("s3cret"));
/// #[derive(Debug, PartialEq)]
/// struct User { name: String }
/// scope.set_user(User { name: "alice".into() });
/// assert_eq!(scope.user::<User>().map(|u| u.name.as_str()), Some("alice"));
/// ```
#[derive(Debug, Default)]
pub struct Scope {
    /// The request path, percent-decoded, without the query string (`/chat/café/`): what routes match.
    pub path: Arc<str>,
    /// The path as the client sent it, still percent-encoded (`/chat/caf%C3%A9/`).
    pub raw_path: Arc<str>,
    /// The raw query string, without `?`.
    pub query_string: Arc<str>,
    /// Request headers, lower-cased names, in order: [`header`](Self::header) finds one,
    /// [`Headers::iter`] reads them all.
    pub headers: Headers,
    /// The HTTP method (`GET` for WebSockets). The standard methods are static strings: an idle
    /// connection's scope holds no allocation for it.
    pub method: Cow<'static, str>,
    /// The client's address, when known: the TCP peer, or the address a trusted proxy forwarded (see
    /// [`ServerConfig::trusted_proxies`](crate::ServerConfig)).
    pub client: Option<std::net::SocketAddr>,
    /// ASGI's `scheme`: `ws` or `wss` for a WebSocket, `http` or `https` for an HTTP request (`wss`/`https`
    /// when the client used TLS, as the listener or a trusted proxy's `X-Forwarded-Proto` says).
    pub scheme: &'static str,
    /// ASGI's `subprotocols`: the subprotocols a WebSocket client offered (`Sec-WebSocket-Protocol`), in
    /// its order of preference. The connect consumer accepts with one of them through
    /// [`ReplyChannel::accept_subprotocol`](crate::ReplyChannel::accept_subprotocol).
    pub subprotocols: Vec<String>,
    /// The connection's session (Channels' `channel_session`).
    pub session: crate::Session,
    /// What middleware or an embedding app attached (user, web session, app state): boxed together, as
    /// most connections carry none of it and every idle connection keeps its scope.
    pub(crate) attached: Option<Box<Attached>>,
    /// The cookies and the query string, parsed on first use: boxed together, made on the first read.
    pub(crate) parsed: OnceLock<Box<Parsed>>,
}

/// What a [`Scope`] parses on first use: one allocation, made only for a connection whose consumers read
/// its cookies or query parameters (most idle connections never do).
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// The `Cookie` header(s), parsed on first use.
    cookies: OnceLock<Vec<(String, String)>>,
    /// The query string, parsed on first use.
    query: OnceLock<Vec<(String, String)>>,
}

/// The scope's rarely-set fields, in one allocation made only when one of them is set.
#[derive(Debug, Default)]
pub(crate) struct Attached {
    /// The user a middleware attached, if any.
    pub(crate) user: UserSlot,
    /// The web session a middleware found by the session cookie.
    pub(crate) http_session: Option<crate::session::HttpSession>,
    /// The embedding application's state (an axum app's), read with [`Message::state`].
    pub(crate) state: Option<AppState>,
}

/// An embedding application's state, of any type, shared by every connection of one mounted service
/// (see `ChannelsService::with_state` under the `axum` feature): it travels from the service to the
/// scope in the request's extensions.
#[derive(Clone)]
pub(crate) struct AppState(
    pub(crate) Arc<dyn Any + Send + Sync>,
    pub(crate) &'static str,
);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppState({})", self.1)
    }
}

/// A user of any type, kept as `Arc<dyn Any>`: [`Scope::set_user`] and [`Scope::user`].
#[derive(Default, Clone)]
pub(crate) struct UserSlot(Option<(Arc<dyn Any + Send + Sync>, &'static str)>);

impl std::fmt::Debug for UserSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some((_, type_name)) => write!(f, "Some({type_name})"),
            None => f.write_str("None"),
        }
    }
}

impl Scope {
    /// The first value of request header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The attached fields, created on first write.
    fn attached_mut(&mut self) -> &mut Attached {
        self.attached.get_or_insert_with(Box::default)
    }

    /// The embedding application's state, if any (see [`Message::state`]).
    pub(crate) fn app_state(&self) -> Option<&AppState> {
        self.attached.as_ref()?.state.as_ref()
    }

    /// Sets the embedding application's state.
    pub(crate) fn set_app_state(&mut self, state: Option<AppState>) {
        if state.is_some() {
            self.attached_mut().state = state;
        }
    }

    /// Attaches `user` to the connection (Channels' `scope["user"]`), replacing any user attached
    /// before: a middleware calls it, and every consumer of the connection reads it with
    /// [`Message::user`].
    pub fn set_user<U: Send + Sync + 'static>(&mut self, user: U) {
        self.attached_mut().user = UserSlot(Some((Arc::new(user), std::any::type_name::<U>())));
    }

    /// The user attached by a middleware, if there is one and it is a `U`.
    pub fn user<U: 'static>(&self) -> Option<&U> {
        self.attached
            .as_ref()?
            .user
            .0
            .as_ref()?
            .0
            .downcast_ref::<U>()
    }

    /// Whether a user (of any type) is attached.
    pub fn has_user(&self) -> bool {
        self.attached.as_ref().is_some_and(|a| a.user.0.is_some())
    }

    /// Puts the web session found by the handshake's session cookie on the connection (Channels'
    /// `scope["session"]`): [`HttpSessionMiddleware`](crate::auth::HttpSessionMiddleware) calls it.
    pub fn set_http_session(&mut self, session: crate::session::HttpSession) {
        self.attached_mut().http_session = Some(session);
    }

    /// The web session, if a middleware found one.
    pub fn http_session(&self) -> Option<&crate::session::HttpSession> {
        self.attached.as_ref()?.http_session.as_ref()
    }

    /// The request's cookies, in order (Channels' `scope["cookies"]`): every `Cookie` header, joined as
    /// RFC 6265 reads them. Parsed on first use.
    pub fn cookies(&self) -> &[(String, String)] {
        self.parsed()
            .cookies
            .get_or_init(|| crate::session::parse_cookies(self.headers.get_all("cookie")))
    }

    /// The value of cookie `name`; the last one when the request sent the name twice, as Django's
    /// `parse_cookie` (and so Channels' `scope["cookies"]`) keeps it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies()
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string's `name=value` pairs, decoded (`+` and `%xx`), in order. Parsed on first use.
    pub fn query_pairs(&self) -> &[(String, String)] {
        self.parsed()
            .query
            .get_or_init(|| crate::session::parse_query(&self.query_string))
    }

    fn parsed(&self) -> &Parsed {
        self.parsed.get_or_init(Box::default)
    }

    /// The first value of query parameter `name` (`?token=..`), decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_pairs()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request's headers as a [`Scope`] keeps them: lower-case names, values as text, in the request's
/// order, all in one allocation.
///
/// Every open connection keeps its scope, so its headers are stored as compactly as they can be: one
/// string holding `name NUL value NUL` for each header, rather than two strings per header. HTTP
/// forbids control characters in header fields (RFC 9110 section 5.5), so a NUL can't be part of a
/// real one; [`push`](Self::push) stores one given to it as U+FFFD.
///
/// ```
/// use channels_runtime::Headers;
/// let mut headers = Headers::new();
/// headers.push("Host", "example.com");
/// headers.push("cookie", "a=1");
/// headers.push("cookie", "b=2");
/// assert_eq!(headers.get("HOST"), Some("example.com"));
/// assert_eq!(headers.get_all("cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
/// assert_eq!(headers.iter().next(), Some(("host", "example.com")));
/// assert_eq!(headers.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// `name\0value\0` for each header, in order.
    text: String,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Room for `bytes` of names and values (plus two bytes per header) without growing.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Headers {
            text: String::with_capacity(bytes),
        }
    }

    /// Adds a header at the end; its name is lower-cased (ASCII), as ASGI gives names.
    pub fn push(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        let start = self.text.len();
        self.text.push_str(name);
        self.text[start..].make_ascii_lowercase();
        self.text.push('\0');
        self.push_value(value);
    }

    /// Adds a header whose name is already lower-case (hyper's are).
    pub(crate) fn push_lowercase(&mut self, name: &str, value: &str) {
        self.text.push_str(name);
        self.text.push('\0');
        self.push_value(value);
    }

    fn push_value(&mut self, value: &str) {
        if value.contains('\0') {
            self.text.push_str(&value.replace('\0', "\u{FFFD}"));
        } else {
            self.text.push_str(value);
        }
        self.text.push('\0');
    }

    /// Gives back memory reserved beyond what the headers hold.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
    }

    /// Every header, `(name, value)`, in order.
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter { rest: &self.text }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.text.bytes().filter(|&b| b == 0).count() / 2
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// As a list of `[name, value]` pairs, as ASGI's scope gives them.
impl serde::Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = HeadersIter<'a>;

    fn into_iter(self) -> HeadersIter<'a> {
        self.iter()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.push(name, value);
        }
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        headers.extend(iter);
        headers
    }
}

/// The headers of a [`Headers`], `(name, value)`, in order: [`Headers::iter`].
#[derive(Debug, Clone)]
pub struct HeadersIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let (name, rest) = self.rest.split_once('\0')?;
        let (value, rest) = rest.split_once('\0')?;
        self.rest = rest;
        Some((name, value))
    }
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

    /// Request headers (lower-case names, in order).
    pub fn headers(&self) -> &Headers {
        &self.scope.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.scope.headers.get(name)
    }

    /// The request's cookies (Channels' `scope["cookies"]`): see [`Scope::cookies`].
    pub fn cookies(&self) -> &[(String, String)] {
        self.scope.cookies()
    }

    /// The value of cookie `name`: see [`Scope::cookie`].
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.scope.cookie(name)
    }

    /// The query string's pairs, decoded: see [`Scope::query_pairs`].
    pub fn query_pairs(&self) -> &[(String, String)] {
        self.scope.query_pairs()
    }

    /// The first value of query parameter `name`, decoded (`message.content.query("token")`).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.scope.query(name)
    }

    /// The user a middleware attached to the connection, if it is a `U` (Channels' `scope["user"]`).
    pub fn user<U: 'static>(&self) -> Option<&U> {
        self.scope.user::<U>()
    }

    /// The web session a middleware found by the session cookie (Channels' `scope["session"]`).
    pub fn http_session(&self) -> Option<&crate::session::HttpSession> {
        self.scope.http_session()
    }

    /// The connection's scope: path, headers, cookies, user.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The name of the reply channel, when the message has one.
    pub(crate) fn reply_channel_name(&self) -> Option<&Arc<str>> {
        self.reply_channel.as_ref()
    }

    /// The HTTP method of the request behind this connection.
    pub fn method(&self) -> &str {
        &self.scope.method
    }

    /// The client's address: the TCP peer, or the one a trusted proxy forwarded.
    pub fn client(&self) -> Option<std::net::SocketAddr> {
        self.scope.client
    }

    /// ASGI's `scheme`: `ws`, `wss`, `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.scope.scheme
    }

    /// The subprotocols the WebSocket client offered, in its order of preference (Channels'
    /// `scope["subprotocols"]`); accept with one of them through
    /// [`ReplyChannel::accept_subprotocol`](crate::ReplyChannel::accept_subprotocol).
    pub fn subprotocols(&self) -> &[String] {
        &self.scope.subprotocols
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
                        .map(|(n, v)| Value::Array(vec![Value::from(n), Value::from(v)]))
                        .collect(),
                ),
            );
            map.insert("method".into(), Value::from(&*self.scope.method));
            if !self.scope.scheme.is_empty() {
                map.insert("scheme".into(), Value::from(self.scope.scheme));
            }
            // ASGI: every WebSocket scope has `subprotocols`, empty when none were offered.
            if self.scope.scheme.starts_with("ws") {
                map.insert(
                    "subprotocols".into(),
                    Value::from(self.scope.subprotocols.clone()),
                );
            }
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
    /// The event name: a literal for the server's own events (`websocket.receive`), so that building a
    /// message allocates nothing for it.
    channel: Name,
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

    /// The connection's session (Channels' `message.channel_session`), shared by all its consumers and
    /// by workers that get a message naming its reply channel (see [`Session`](crate::Session)).
    pub fn channel_session(&self) -> &crate::Session {
        &self.content.scope.session
    }

    /// The user a middleware attached to the connection, if it is a `U` (Channels' `message.user`,
    /// `scope["user"]`).
    ///
    /// ```
    /// use channels_runtime::Message;
    /// struct User;
    /// assert!(Message::from_text("hi").user::<User>().is_none());
    /// ```
    pub fn user<U: 'static>(&self) -> Option<&U> {
        self.content.user::<U>()
    }

    /// The web session a middleware found by the handshake's session cookie (Channels'
    /// `message.http_session`), if any.
    pub fn http_session(&self) -> Option<&crate::session::HttpSession> {
        self.content.http_session()
    }

    /// The state of the application this routing table is mounted in, if it is an `S`: an axum app's
    /// state, given to `ChannelsService::with_state` (feature `axum`, module `axum`), as an axum
    /// handler reads it with `State<S>`. `None` without one, or for another type; and in worker
    /// consumers, whose messages come from no connection.
    ///
    /// ```
    /// use channels_runtime::Message;
    /// #[derive(Clone)]
    /// struct AppState;
    /// assert!(Message::from_text("hi").state::<AppState>().is_none());
    /// ```
    pub fn state<S: Send + Sync + 'static>(&self) -> Option<&S> {
        self.content.scope.app_state()?.0.downcast_ref::<S>()
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
    channel: Name,
    content: Content,
}

impl MessageBuilder {
    pub(crate) fn new(channel: impl Into<Name>, scope: Arc<Scope>) -> Self {
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
