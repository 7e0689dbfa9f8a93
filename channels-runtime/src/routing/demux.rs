//! Channels 1.x's `WebsocketDemultiplexer`: one WebSocket carrying several streams. Each frame is
//! `{"stream": s, "payload": {...}}`; the consumer serving stream `s` gets the payload (as the text of
//! its `websocket.receive`, so `receive_json` and [`Json`](super::Json) decode it), and answers through
//! its [`Multiplexer`], which wraps replies in the same envelope.
//!
//! As in 1.x: the demultiplexer accepts the connection, then hands `websocket.connect` to every
//! stream's consumer, in order; `websocket.disconnect` likewise. A frame that isn't such an object,
//! names a stream nobody serves, or has a payload that isn't an object is a
//! [`DispatchError::Demultiplex`] (1.x raised `ValueError`): logged, then the route's
//! [`ErrorMode`](super::ErrorMode) decides.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::captures::PathParams;
use super::consumer::{Consumer, ConsumerError, ConsumerResult, Invocation};
use super::dispatch::DispatchError;
use super::route::{Binder, Route};
use crate::message::events;
use crate::{Group, Message, ReplyChannel, Result, context};

/// The way back to the client for one stream of a demultiplexed connection (Channels 1.x's
/// `WebsocketMultiplexer`, the `multiplexer` keyword argument): everything sent through it is wrapped as
/// `{"stream": stream, "payload": payload}`.
///
/// A consumer gets it with `message.multiplexer()`, or as a parameter (`multiplexer: Multiplexer`) of a
/// function consumer.
///
/// ```
/// use channels_runtime::routing::Multiplexer;
/// assert_eq!(
///     Multiplexer::encode("echo", &serde_json::json!({"n": 1})).unwrap(),
///     r#"{"stream":"echo","payload":{"n":1}}"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Multiplexer {
    stream: Arc<str>,
    reply_channel: ReplyChannel,
}

#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    stream: &'a str,
    payload: &'a T,
}

impl Multiplexer {
    pub(crate) fn new(stream: Arc<str>, reply_channel: ReplyChannel) -> Self {
        Multiplexer {
            stream,
            reply_channel,
        }
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The connection's reply channel (sends through it are *not* wrapped).
    pub fn reply_channel(&self) -> &ReplyChannel {
        &self.reply_channel
    }

    /// The text of a frame carrying `payload` on `stream` (1.x's `WebsocketMultiplexer.encode`).
    pub fn encode<T: Serialize + ?Sized>(stream: &str, payload: &T) -> Result<String> {
        Ok(serde_json::to_string(&Envelope { stream, payload })?)
    }

    /// Sends `payload` on this stream (1.x's `multiplexer.send(payload)`).
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`ReplyChannel::send_text`].
    pub async fn send<T: Serialize + ?Sized>(&self, payload: &T) -> Result<()> {
        let text = Self::encode(&self.stream, payload)?;
        self.reply_channel.send_text(text).await
    }

    /// [`send`](Self::send) for sync consumers.
    pub fn send_blocking<T: Serialize + ?Sized>(&self, payload: &T) -> Result<()> {
        self.reply_channel
            .send_text_blocking(Self::encode(&self.stream, payload)?)
    }

    /// Sends `payload` on `stream` to every member of `group` (1.x's
    /// `WebsocketDemultiplexer.group_send(name, stream, payload)`).
    pub async fn group_send<T: Serialize + ?Sized>(
        group: &Group,
        stream: &str,
        payload: &T,
    ) -> Result<()> {
        group.send_text(Self::encode(stream, payload)?).await
    }
}

/// Channels 1.x's `WebsocketDemultiplexer`: which consumer serves which stream.
///
/// `channel_routing!` writes it from `route_demultiplexer(path = r"...", consumers = {"echo":
/// EchoConsumer, ...})`; by hand:
///
/// ```
/// use channels_runtime::routing::{Consumer, Demultiplexer, Routing};
/// use channels_runtime::Message;
///
/// let echo = Consumer::from_async("echo", |message: Message| async move {
///     match message.multiplexer() {
///         Some(stream) if message.text().is_some() => {
///             let content: serde_json::Value = serde_json::from_str(message.text().unwrap_or("null"))?;
///             stream.send(&content).await
///         }
///         _ => Ok(()),
///     }
/// });
/// let routing = Routing::new().route(Demultiplexer::new().stream("echo", echo).route(Some(r"^/multiplex/$")));
/// assert!(routing.resolve("websocket.receive", "/multiplex/").is_some());
/// ```
#[derive(Clone, Default)]
pub struct Demultiplexer {
    streams: Vec<(Arc<str>, Binder)>,
    groups: Vec<&'static str>,
}

impl std::fmt::Debug for Demultiplexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.streams.iter().map(|(s, _)| s))
            .finish()
    }
}

/// A demultiplexer's name in logs.
const NAME: &str = "WebsocketDemultiplexer";

impl Demultiplexer {
    /// A demultiplexer with no streams yet.
    pub fn new() -> Self {
        Demultiplexer::default()
    }

    /// Serves `stream` with `consumer`, which takes no path captures.
    pub fn stream(self, stream: &str, consumer: Consumer) -> Self {
        self.stream_with(stream, move |_| Some(consumer.clone()))
    }

    /// Serves `stream` with the consumer `binder` makes for each connection (a class-based consumer's
    /// `bind`: one instance per stream per connection); `None` (a capture that doesn't parse) makes the
    /// route not match.
    pub fn stream_with(
        mut self,
        stream: &str,
        binder: impl Fn(&PathParams) -> Option<Consumer> + Send + Sync + 'static,
    ) -> Self {
        self.streams.push((Arc::from(stream), Arc::new(binder)));
        self
    }

    /// Declares groups that every connection taking the route joins (see
    /// [`Route::with_groups`]): the streams' consumers' declared groups.
    pub fn with_groups(mut self, groups: impl IntoIterator<Item = &'static str>) -> Self {
        self.groups.extend(groups);
        self
    }

    /// The route: every `websocket.*` event at `path` goes to the demultiplexer (as a class-based
    /// consumer's route does), with the declared groups.
    pub fn route(self, path: Option<&str>) -> Route {
        let groups = self.groups.clone();
        Route::class(path, NAME, move |params| self.bind(params)).with_groups(groups)
    }

    /// Binds every stream's consumer for one connection.
    fn bind(&self, params: &PathParams) -> Option<Consumer> {
        let mut streams = Vec::with_capacity(self.streams.len());
        for (name, binder) in &self.streams {
            streams.push((name.clone(), binder(params)?));
        }
        let streams: Arc<[(Arc<str>, Consumer)]> = streams.into();
        Some(Consumer::new(NAME, move |message| {
            let streams = streams.clone();
            Invocation::Async(Box::pin(dispatch(streams, message)))
        }))
    }
}

/// One event of a demultiplexed connection, handed to the streams' consumers.
async fn dispatch(streams: Arc<[(Arc<str>, Consumer)]>, message: Message) -> ConsumerResult {
    match message.channel() {
        events::WEBSOCKET_CONNECT => {
            // 1.x: `self.message.reply_channel.send({"accept": True})`, then every consumer's connect.
            message
                .reply_channel
                .accept()
                .await
                .map_err(ConsumerError::new)?;
            every_stream(&streams, &message).await
        }
        events::WEBSOCKET_DISCONNECT => every_stream(&streams, &message).await,
        events::WEBSOCKET_RECEIVE => {
            let (stream, payload) = frame(&message).map_err(ConsumerError::new)?;
            let Some((name, consumer)) = streams.iter().find(|(s, _)| **s == *stream) else {
                return Err(ConsumerError::new(DispatchError::Demultiplex {
                    reason: format!("no consumer serves stream {stream:?}"),
                }));
            };
            run(consumer.invoke(message.for_stream(name, Some(payload)))).await
        }
        // 1.x had no typed events: a stream is sent to with `Multiplexer::group_send`.
        other => Err(ConsumerError::new(DispatchError::NoEvents {
            event: other.to_owned(),
        })),
    }
}

/// Hands `message` to every stream's consumer in order; all of them run, and the first failure is
/// returned.
async fn every_stream(streams: &[(Arc<str>, Consumer)], message: &Message) -> ConsumerResult {
    let mut outcome = Ok(());
    for (name, consumer) in streams {
        let result = run(consumer.invoke(message.for_stream(name, None))).await;
        if outcome.is_ok() {
            outcome = result;
        }
    }
    outcome
}

/// The stream and the payload (as JSON text) of a multiplexed frame.
fn frame(message: &Message) -> std::result::Result<(String, Utf8Bytes), DispatchError> {
    let bad = |reason: &str| DispatchError::Demultiplex {
        reason: reason.to_owned(),
    };
    let text = message
        .text()
        .ok_or_else(|| bad("a binary frame; frames are JSON text"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| DispatchError::Demultiplex {
        reason: format!("not JSON: {e}"),
    })?;
    let Value::Object(mut map) = value else {
        return Err(bad("not a JSON object"));
    };
    let (Some(Value::String(stream)), Some(payload)) =
        (map.remove("stream"), map.remove("payload"))
    else {
        return Err(bad("no \"stream\" (a string) and \"payload\" keys"));
    };
    if !payload.is_object() {
        return Err(bad("the payload is not an object"));
    }
    Ok((stream, Utf8Bytes::from(payload.to_string())))
}

/// Runs one stream consumer's invocation to its end: an async one here, a sync one on the blocking
/// pool with the current layer (as the server runs it). A panic goes on up, to the server's handler.
async fn run(invocation: Invocation) -> ConsumerResult {
    match invocation {
        Invocation::Async(run) => run.await,
        Invocation::Blocking(body) => {
            let layer = context::current_layer().map_err(ConsumerError::new)?;
            let handle = tokio::runtime::Handle::current();
            match tokio::task::spawn_blocking(move || context::run_sync(handle, layer, body)).await
            {
                Ok(result) => result,
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Err(join) => Err(ConsumerError::new(join)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_message(text: &str) -> Message {
        Message::from_text(text.to_owned())
    }

    #[test]
    fn frames_are_checked_as_1x_checks_them() {
        let (stream, payload) = frame(&text_message(r#"{"stream": "echo", "payload": {"a": 1}}"#))
            .expect("a good frame");
        assert_eq!(stream, "echo");
        assert_eq!(payload.as_str(), r#"{"a":1}"#);
        for bad in [
            "not json",
            "[1]",
            r#"{"stream": "echo"}"#,
            r#"{"payload": {}}"#,
            r#"{"stream": 1, "payload": {}}"#,
            r#"{"stream": "echo", "payload": [1]}"#,
        ] {
            assert!(
                matches!(
                    frame(&text_message(bad)),
                    Err(DispatchError::Demultiplex { .. })
                ),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn replies_are_wrapped() {
        let text = Multiplexer::encode("chat", &serde_json::json!({"m": "hi"})).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"stream": "chat", "payload": {"m": "hi"}})
        );
    }
}
