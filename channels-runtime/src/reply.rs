//! [`ReplyChannel`]: the way back to the client behind a message.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::layer::{ChannelLayer, Inbox, LayerMessage};
use crate::outbound::{self, Destination, Name};
use crate::{Error, HttpResponse, Result, asgi, context};

/// The reply channel of a connection (Channels' `message.reply_channel`).
///
/// Everything sent here leaves at once: the connection's task writes it to the socket while the consumer
/// keeps running, so a consumer may loop and every message it sends reaches the client as it goes. Cloning
/// is cheap; a clone may be moved to another task and used after the consumer has returned. Sends to a
/// connection that has closed fail with [`Error::Disconnected`].
///
/// ```no_run
/// use channels_runtime::{Message, Result};
/// use serde_json::json;
/// async fn ws_message(message: Message) -> Result<()> {
///     // The seed's `message.reply_channel.send({"text": message.content['text']})`:
///     message.reply_channel.send(json!({"text": message.content["text"]})).await
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ReplyChannel {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    layer: Arc<dyn ChannelLayer>,
    /// Where sends go, decided once: the inbox's queue in this process, or the channel on the layer.
    destination: Destination,
}

impl ReplyChannel {
    /// A reply channel for the channel `name` on `layer` (for example one stored by name and used later).
    pub fn new(name: impl Into<Arc<str>>, layer: Arc<dyn ChannelLayer>) -> Self {
        let name = name.into();
        let destination = Destination::Channel(Name::Shared(name.clone()), layer.clone());
        ReplyChannel {
            inner: Some(Arc::new(Inner {
                name,
                layer,
                destination,
            })),
        }
    }

    /// The reply channel that writes to `inbox` (a connection's own), pushing to it directly: no layer
    /// round trip, and a full inbox makes the sender wait instead of failing.
    pub(crate) fn for_inbox(inbox: &Inbox, layer: Arc<dyn ChannelLayer>) -> Self {
        ReplyChannel {
            inner: Some(Arc::new(Inner {
                name: inbox.shared_name(),
                layer,
                destination: Destination::Local(inbox.queue().clone()),
            })),
        }
    }

    /// The reply channel of a message that has none (a worker message sent without `reply_channel`).
    pub fn none() -> Self {
        ReplyChannel { inner: None }
    }

    /// The channel's name, usable with `Channel`/`Group` APIs and across processes.
    pub fn name(&self) -> Option<&str> {
        self.inner.as_ref().map(|i| &*i.name)
    }

    pub(crate) fn shared_name(&self) -> Option<Arc<str>> {
        self.inner.as_ref().map(|i| i.name.clone())
    }

    pub(crate) fn layer(&self) -> Option<&Arc<dyn ChannelLayer>> {
        self.inner.as_ref().map(|i| &i.layer)
    }

    /// Sends one layer message.
    ///
    /// When the connection holds more than half its
    /// [`outbound_budget`](crate::ServerConfig::outbound_budget) of bytes not yet written to the socket,
    /// this waits until the connection has written some: a consumer that loops and sends faster than the
    /// client reads is slowed down to the client's pace instead of failing (the other half is left for
    /// group messages). It fails with [`Error::Disconnected`] once the connection has closed. Group sends
    /// never wait (see [`Group::send`](crate::Group::send)). A reply channel made with
    /// [`ReplyChannel::new`] sends through the layer instead, as another consumer would: it never waits,
    /// and the server's slow-client policy applies.
    /// Inside an atomic consumer the send is held until the consumer returns.
    ///
    /// # Cancel safety
    /// Cancel-safe: the message is queued in the poll that returns `Ok`, or not at all.
    ///
    /// (Written as a `fn` returning the send's future, as are [`send_text`](Self::send_text) and
    /// [`send_bytes`](Self::send_bytes), rather than an `async fn` wrapping it: the future a consumer
    /// awaits is then the send itself, one level instead of three, which is what the consumer's own
    /// future holds and copies for every message.)
    pub fn send_message(
        &self,
        message: LayerMessage,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        outbound::send(self.inner.as_ref().map(|inner| &inner.destination), message)
    }

    /// Sends a message given as Channels' dict: `{"text": ..}`, `{"bytes": ..}`, `{"accept": true}`,
    /// `{"close": true}` or `{"close": 4000}` (several at once are sent in that order: accept, data, close),
    /// or for HTTP `{"status": 200, "headers": [[..]], "content": ..}`.
    ///
    /// Unknown keys, and keys that conflict (`text` with `bytes`), are an [`Error::InvalidMessage`] and
    /// nothing is sent.
    pub async fn send(&self, message: Value) -> Result<()> {
        for part in asgi::reply_messages(message)? {
            self.send_message(part).await?;
        }
        Ok(())
    }

    /// Accepts the WebSocket (from a `websocket.connect` consumer).
    pub async fn accept(&self) -> Result<()> {
        self.send_message(LayerMessage::Accept).await
    }

    /// Accepts the WebSocket with `subprotocol`, one of those the client offered
    /// ([`Content::subprotocols`](crate::Content::subprotocols)): the 101 response carries it in
    /// `Sec-WebSocket-Protocol` (Channels' `self.accept(subprotocol)`). A browser that offered
    /// subprotocols fails a connection accepted without one, so pick one to accept it.
    ///
    /// A subprotocol the client did not offer refuses the handshake with **500** and an error in the log
    /// (the browser would fail the connection anyway); one that is not a token (RFC 6455: letters,
    /// digits and `!#$%&'*+-.^_`|~`) is an [`Error::InvalidMessage`] here.
    ///
    /// ```no_run
    /// use channels_runtime::{Message, Result};
    /// async fn ws_connect(message: Message) -> Result<()> {
    ///     if message.content.subprotocols().iter().any(|p| p == "chat.v2") {
    ///         message.reply_channel.accept_subprotocol("chat.v2").await
    ///     } else {
    ///         message.reply_channel.reject().await
    ///     }
    /// }
    /// ```
    pub async fn accept_subprotocol(&self, subprotocol: &str) -> Result<()> {
        self.accept_with(Some(subprotocol), &[]).await
    }

    /// Accepts the WebSocket with a subprotocol (see [`accept_subprotocol`](Self::accept_subprotocol))
    /// and extra headers on the 101 response (ASGI's `websocket.accept` with `headers`; Channels'
    /// `self.accept(subprotocol, headers)`), such as a `Set-Cookie`.
    ///
    /// The headers the handshake writes itself (`Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol`,
    /// `Upgrade`, `Connection`, ...), a name that is not a header name and a value with a control
    /// character are an [`Error::InvalidMessage`] here.
    ///
    /// ```no_run
    /// use channels_runtime::{Message, Result};
    /// async fn ws_connect(message: Message) -> Result<()> {
    ///     message.reply_channel.accept_with(None, &[("set-cookie", "seen=1; Path=/")]).await
    /// }
    /// ```
    pub async fn accept_with(
        &self,
        subprotocol: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<()> {
        let event = serde_json::json!({
            "type": "websocket.accept",
            "subprotocol": subprotocol,
            "headers": headers.iter().map(|(n, v)| [n, v]).collect::<Vec<_>>(),
        });
        if let Value::Object(map) = &event
            && let Some(Err(problem)) = crate::server::builtin_action(map)
        {
            return Err(Error::InvalidMessage(problem));
        }
        self.send(event).await
    }

    /// Rejects the WebSocket handshake: the client gets HTTP 403.
    pub async fn reject(&self) -> Result<()> {
        self.send_message(LayerMessage::Reject).await
    }

    /// Sends a text frame (as [`send_message`](Self::send_message) does).
    pub fn send_text(
        &self,
        text: impl Into<Utf8Bytes>,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        self.send_message(LayerMessage::Text(text.into()))
    }

    /// Sends a binary frame (as [`send_message`](Self::send_message) does).
    pub fn send_bytes(
        &self,
        bytes: impl Into<Bytes>,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        self.send_message(LayerMessage::Binary(bytes.into()))
    }

    /// Sends `value` serialized as JSON in a text frame.
    pub async fn send_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string(value)?;
        self.send_text(text).await
    }

    /// Closes the WebSocket with code 1000.
    pub async fn close(&self) -> Result<()> {
        self.close_with(1000).await
    }

    /// Closes the WebSocket with `code` (1000, or an application code 3000-4999).
    pub async fn close_with(&self, code: u16) -> Result<()> {
        asgi::check_close_code(code)?;
        self.send_message(LayerMessage::Close(code)).await
    }

    /// Closes the WebSocket with `code` (1000, or 3000-4999) and `reason`, a text the client reads in the
    /// close frame (ASGI's `websocket.close` with `reason`; Channels' `self.close(code, reason)`). A
    /// reason longer than 123 bytes (what a close frame holds) is cut at a character boundary. Before
    /// the connection is accepted, this rejects it (403) and the reason is not sent: an HTTP refusal has
    /// no close frame.
    ///
    /// ```no_run
    /// use channels_runtime::{Message, Result};
    /// async fn ws_receive(message: Message) -> Result<()> {
    ///     message.reply_channel.close_with_reason(4003, "token expired").await
    /// }
    /// ```
    pub async fn close_with_reason(&self, code: u16, reason: &str) -> Result<()> {
        asgi::check_close_code(code)?;
        self.send(serde_json::json!({"type": "websocket.close", "code": code, "reason": reason}))
            .await
    }

    /// Answers an `http.request`.
    pub async fn respond(&self, response: HttpResponse) -> Result<()> {
        self.send_message(LayerMessage::Http(Arc::new(response)))
            .await
    }

    /// Starts a streaming response to an `http.request` (ASGI's `http.response.start`): `head`'s status and
    /// headers leave now, its body (if not empty) as the first chunk; later chunks go with
    /// [`send_body`](Self::send_body), and [`end_body`](Self::end_body) ends the response.
    ///
    /// The response stays open after the consumer returns, until the body ends or the client leaves. While
    /// it is open, typed events sent to this reply channel (a group's `{"type": "events.tick", ..}`) run the
    /// request's consumer again, one at a time, and text or bytes sent to it (a group's `send_text`) are
    /// written as body chunks as they are; when the client leaves first, the consumer runs once more with
    /// [`http_events::DISCONNECT`](crate::http_events::DISCONNECT). Chunks count against the connection's
    /// [`outbound_budget`](crate::ServerConfig::outbound_budget), as WebSocket frames do.
    ///
    /// ```no_run
    /// use channels_runtime::{HttpResponse, Message, Result};
    /// async fn countdown(message: Message) -> Result<()> {
    ///     let reply = &message.reply_channel;
    ///     reply.start_response(HttpResponse::text("3\n")).await?;
    ///     reply.send_body("2\n").await?;
    ///     reply.send_body("1\n").await?;
    ///     reply.end_body().await
    /// }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel-safe: the head may leave without the first chunk.
    pub async fn start_response(&self, head: HttpResponse) -> Result<()> {
        self.send_message(crate::http::start_event(&head)).await?;
        if !head.body.is_empty() {
            self.send_body(head.body).await?;
        }
        Ok(())
    }

    /// Sends a chunk of a streaming response's body (ASGI's `http.response.body` with `more_body`).
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`send_message`](Self::send_message).
    pub async fn send_body(&self, chunk: impl Into<Bytes>) -> Result<()> {
        self.send_message(LayerMessage::Binary(chunk.into())).await
    }

    /// Ends a streaming response's body: the client has the whole response, and the reply channel closes.
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`send_message`](Self::send_message).
    pub async fn end_body(&self) -> Result<()> {
        self.send_message(LayerMessage::Close(1000)).await
    }

    /// Keeps an `http.request` open after its consumer returns without answering: a long-poll. Typed
    /// events sent to this reply channel (from a group the consumer joined) then run the request's
    /// consumer again, and it answers with [`respond`](Self::respond) (or starts a stream); a group can
    /// also answer every held request at once with an HTTP response dict. The server's
    /// [`http_timeout`](crate::ServerConfig::http_timeout) still bounds the wait (503), and a client that
    /// leaves first runs the consumer with [`http_events::DISCONNECT`](crate::http_events::DISCONNECT).
    ///
    /// ```no_run
    /// use channels_runtime::{Group, HttpResponse, Message, Result};
    /// async fn poll(message: Message) -> Result<()> {
    ///     match message.channel() {
    ///         "http.request" => {
    ///             Group::new("news")?.add(&message.reply_channel).await?;
    ///             message.reply_channel.hold_response().await
    ///         }
    ///         "news.published" => {
    ///             let text = message.get("text").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    ///             message.reply_channel.respond(HttpResponse::text(text)).await
    ///         }
    ///         _ => Ok(()), // http.disconnect
    ///     }
    /// }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`send_message`](Self::send_message).
    pub async fn hold_response(&self) -> Result<()> {
        self.send_message(crate::http::hold_event()).await
    }

    /// [`send`](Self::send) for sync consumers.
    ///
    /// Every `*_blocking` method also works on a plain thread outside any runtime while a server or worker
    /// runs in the process: the send then runs on the runtime of the most recently started one that is still
    /// running. On an async runtime thread it fails with [`Error::BlockingInAsync`].
    pub fn send_blocking(&self, message: Value) -> Result<()> {
        context::block_on(self.send(message))?
    }

    /// [`send_text`](Self::send_text) for sync consumers.
    pub fn send_text_blocking(&self, text: impl Into<Utf8Bytes>) -> Result<()> {
        context::block_on(self.send_text(text))?
    }

    /// [`accept`](Self::accept) for sync consumers.
    pub fn accept_blocking(&self) -> Result<()> {
        context::block_on(self.accept())?
    }

    /// [`send_json`](Self::send_json) for sync consumers: `value` serialized as JSON in a text frame
    /// (Channels' `self.send_json(content)`), not a Channels dict as [`send_blocking`](Self::send_blocking)
    /// takes.
    pub fn send_json_blocking<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        context::block_on(self.send_json(value))?
    }

    /// [`close`](Self::close) for sync consumers.
    pub fn close_blocking(&self) -> Result<()> {
        context::block_on(self.close())?
    }

    /// [`respond`](Self::respond) for sync consumers.
    pub fn respond_blocking(&self, response: HttpResponse) -> Result<()> {
        context::block_on(self.respond(response))?
    }
}
