//! One accepted WebSocket: reads frames, dispatches events in order, writes what the consumers send.
//!
//! The task waits on three things at once: the connection's reply channel (its inbox), the consumer run
//! in progress, and the socket. So whatever a consumer sends leaves while it is still running, and a
//! looping consumer never blocks the reply path. Events are dispatched one at a time, in order; while a
//! consumer runs, up to [`ServerConfig::max_pending_events`](super::ServerConfig) incoming frames are
//! buffered, then reading pauses (TCP backpressure).
//!
//! The wait is one hand-written poll (not `select!`), so that the state kept per idle connection is small:
//! this future lives as long as the connection.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::bindings::Bindings;
use super::invoke::{self, Failure, RunFuture};
use crate::ReplyChannel;
use crate::layer::{ChannelLayer, Inbox, LayerMessage};
use crate::message::{MessageBuilder, Scope, events};
use crate::routing::Consumer;

pub(crate) type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Everything a connection owns after the handshake.
pub(crate) struct Connection {
    pub(crate) scope: Arc<Scope>,
    pub(crate) inbox: Inbox,
    pub(crate) reply: ReplyChannel,
    pub(crate) bindings: Bindings,
    pub(crate) layer: Arc<dyn ChannelLayer>,
    /// Messages the connect consumer sent before the upgrade completed, to write first.
    pub(crate) early: Vec<LayerMessage>,
    pub(crate) max_pending: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) shutdown: Arc<super::Shutdown>,
    pub(crate) websocket: WebSocketConfig,
    /// Counts this connection as open until it is dropped, disconnect consumer included.
    pub(crate) _tracked: super::TrackerGuard,
}

/// A consumer run in progress: its name, the event it handles, and the run itself.
pub(crate) type Running = (&'static str, &'static str, RunFuture);

enum Incoming {
    Text(tokio_tungstenite::tungstenite::Utf8Bytes),
    Binary(bytes::Bytes),
    Event(String, Arc<Map<String, Value>>),
}

/// What woke the connection.
enum Wake {
    Outbound(LayerMessage),
    Finished(Result<(), Failure>),
    Frame(Option<Result<WsMessage, WsError>>),
    Shutdown,
}

/// Why the loop ended, which decides the disconnect message's `code`.
struct Ended {
    code: u16,
}

/// How a connection is to be closed.
enum Close {
    /// The peer closed (or vanished) with this code: answer, don't wait.
    Received(u16),
    /// We close, and wait for the peer's reply.
    Send(CloseCode, &'static str),
    /// The peer broke a limit or the protocol: close with this code at once.
    BadInput(CloseCode, &'static str, WsError),
}

impl Connection {
    /// Completes the upgrade, runs the connection to its end, then the disconnect consumer, then leaves the
    /// declared groups.
    ///
    /// `running` is the connect consumer, if it accepted and is still running. One future per connection
    /// does all of it, so that the connection's state is stored once, not once per nesting level.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in the body
    pub(crate) fn run(
        mut self,
        upgrade: hyper::upgrade::OnUpgrade,
        running: Option<Running>,
    ) -> impl Future<Output = ()> + Send + 'static {
        // An `async` block, not an `async fn`: an async fn keeps its arguments twice in its state
        // (rust-lang/rust#62958), and this state is paid for by every open connection.
        async move {
            let upgraded = match upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::debug!(%error, "upgrade failed");
                    super::leave_groups(&self.layer, self.inbox.name(), &self.bindings.groups)
                        .await;
                    return;
                }
            };
            // `from_raw_socket` is async in name only (it never waits); taking its result at once keeps its
            // state out of this long-lived future.
            let stream = TokioIo::new(upgraded);
            let Some(mut socket) =
                WebSocketStream::from_raw_socket(stream, Role::Server, Some(self.websocket))
                    .now_or_never()
            else {
                tracing::error!("WebSocket set-up did not complete at once; connection dropped");
                return;
            };
            // A consumer still running when the connection closes is cancelled: `serve` drops it on return.
            let mut order: u64 = 1;
            let ended = self.serve(&mut socket, running, &mut order).await;
            drop(socket);
            // Boxed: it runs once, at the end, and its state should not weigh on every open connection.
            Box::pin(self.finish(order, ended.code)).await;
        }
    }

    /// Runs the disconnect consumer, then leaves the declared groups.
    async fn finish(self, order: u64, code: u16) {
        if let Some(consumer) = self.bindings.disconnect.clone() {
            let message = MessageBuilder::new(events::WEBSOCKET_DISCONNECT, self.scope.clone())
                .order(order) // the next after the last event dispatched, as ASGI numbers them
                .code(code)
                .build(self.reply.clone());
            if let Err(failure) = invoke::start(&consumer, message, &self.layer).await {
                invoke::log_failure(consumer.name(), events::WEBSOCKET_DISCONNECT, &failure);
            }
        }
        super::leave_groups(&self.layer, self.inbox.name(), &self.bindings.groups).await;
    }

    /// Serves the socket until it closes; `order` counts the events dispatched (connect is 0).
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in `run`
    fn serve<'a>(
        &'a mut self,
        socket: &'a mut Socket,
        mut running: Option<Running>,
        order: &'a mut u64,
    ) -> impl Future<Output = Ended> + Send + 'a {
        // An `async` block rather than an `async fn`, for the same reason as in `run`.
        async move {
            let mut pending: VecDeque<Incoming> = VecDeque::new();
            let shutdown = self.shutdown.clone();
            let mut stopping = std::pin::pin!(shutdown.raised());
            if shutdown.is_raised() {
                return self
                    .close(socket, Close::Send(CloseCode::Away, "server shutting down"))
                    .await;
            }

            for message in std::mem::take(&mut self.early) {
                if let Err(close) = self.write(socket, message, &mut pending).await {
                    return self.close(socket, close).await;
                }
            }
            if socket.flush().await.is_err() {
                return Ended { code: 1006 };
            }

            let mut just_wrote = false;
            let mut stop_registered = false;
            loop {
                // Start the next event when nothing is running.
                if running.is_none()
                    && let Some(next) = pending.pop_front()
                {
                    running = self.dispatch(next, *order);
                    *order += 1;
                    // Each event counts against tokio's cooperative budget: a connection with a long
                    // backlog (a burst sender) yields now and then, so the connections its consumers send
                    // to get to write too.
                    tokio::task::coop::consume_budget().await;
                }
                let can_read = pending.len() < self.max_pending;
                // What consumers sent goes first, then the running consumer, then the socket; but right
                // after writing a batch the others go first, so that a flood of outbound messages can't
                // starve reading (a close frame, a ping, the client's own messages).
                let outbound_first = !just_wrote;
                let wake = std::future::poll_fn(|cx| {
                    if outbound_first && let Some(message) = self.inbox.try_recv() {
                        return Poll::Ready(Wake::Outbound(message));
                    }
                    // The running consumer's own sends need not wake this task: the inbox is checked
                    // (and the wake-up registered again) below, before this task sleeps.
                    self.inbox.disarm();
                    if let Some((_, _, run)) = running.as_mut()
                        && let Poll::Ready(outcome) = Pin::new(run).poll(cx)
                    {
                        return Poll::Ready(Wake::Finished(outcome));
                    }
                    if can_read && let Poll::Ready(frame) = socket.poll_next_unpin(cx) {
                        return Poll::Ready(Wake::Frame(frame));
                    }
                    // Registered with the first poll; after that the flag says it (cheaper than
                    // polling the `Notified` each time, and a raise still wakes this task).
                    if shutdown.is_raised() {
                        return Poll::Ready(Wake::Shutdown);
                    }
                    if !stop_registered {
                        stop_registered = true;
                        if stopping.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Wake::Shutdown);
                        }
                    }
                    if let Poll::Ready(message) = self.inbox.poll_recv(cx) {
                        return Poll::Ready(Wake::Outbound(message));
                    }
                    Poll::Pending
                })
                .await;
                just_wrote = matches!(wake, Wake::Outbound(_));
                let close = match wake {
                    Wake::Outbound(message) => {
                        let mut outcome = self.write(socket, message, &mut pending).await;
                        // Batch whatever else is ready before flushing once.
                        let mut budget = 64;
                        while outcome.is_ok() && budget > 0 {
                            let Some(message) = self.inbox.try_recv() else {
                                break;
                            };
                            outcome = self.write(socket, message, &mut pending).await;
                            budget -= 1;
                        }
                        match outcome {
                            Err(close) => close,
                            Ok(()) => match socket.flush().await {
                                Ok(()) => continue,
                                Err(_) => return Ended { code: 1006 },
                            },
                        }
                    }
                    Wake::Finished(outcome) => {
                        let Some((consumer, event, _)) = running.take() else {
                            continue;
                        };
                        let Err(failure) = outcome else { continue };
                        invoke::log_failure(consumer, event, &failure);
                        let reason = match failure {
                            Failure::Error(_) => "consumer error",
                            Failure::Panic(_) => "consumer panicked",
                        };
                        Close::Send(CloseCode::Error, reason)
                    }
                    Wake::Frame(frame) => match frame {
                        Some(Ok(WsMessage::Text(text))) => {
                            pending.push_back(Incoming::Text(text));
                            continue;
                        }
                        Some(Ok(WsMessage::Binary(bytes))) => {
                            pending.push_back(Incoming::Binary(bytes));
                            continue;
                        }
                        Some(Ok(WsMessage::Close(frame))) => {
                            Close::Received(frame.map_or(1005, |f| u16::from(f.code)))
                        }
                        Some(Ok(_)) => {
                            // Ping or pong: tungstenite answers pings on the next flush.
                            if socket.flush().await.is_err() {
                                return Ended { code: 1006 };
                            }
                            continue;
                        }
                        Some(Err(error)) => match &error {
                            WsError::Capacity(_) => {
                                Close::BadInput(CloseCode::Size, "message too big", error)
                            }
                            WsError::Utf8(_) => Close::BadInput(
                                CloseCode::Invalid,
                                "invalid UTF-8 in text frame",
                                error,
                            ),
                            WsError::Protocol(_) => {
                                Close::BadInput(CloseCode::Protocol, "protocol error", error)
                            }
                            _ => {
                                tracing::debug!(%error, "connection dropped");
                                return Ended { code: 1006 };
                            }
                        },
                        None => return Ended { code: 1006 },
                    },
                    Wake::Shutdown => Close::Send(CloseCode::Away, "server shutting down"),
                };
                return self.close(socket, close).await;
            }
        }
    }

    /// Ends the connection the way `close` says: sends our close frame or answers the peer's, then waits
    /// (at most `close_timeout`) for the peer to finish the closing handshake. Boxed: it runs once, and its
    /// state should not weigh on every idle connection.
    fn close<'a>(
        &'a self,
        socket: &'a mut Socket,
        close: Close,
    ) -> futures_util::future::BoxFuture<'a, Ended> {
        Box::pin(async move {
            let code = match close {
                Close::Received(code) => {
                    // tungstenite queued the close reply; flushing sends it.
                    let _ = socket.flush().await;
                    return Ended { code };
                }
                Close::BadInput(code, reason, error) => {
                    tracing::info!(%error, code = u16::from(code), "closing connection: bad input from peer");
                    let _ = socket
                        .close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        }))
                        .await;
                    return Ended {
                        code: u16::from(code),
                    };
                }
                Close::Send(code, reason) => {
                    let _ = socket
                        .close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        }))
                        .await;
                    u16::from(code)
                }
            };
            let drain = async { while let Some(Ok(_)) = socket.next().await {} };
            let _ = tokio::time::timeout(self.close_timeout, drain).await;
            Ended { code }
        })
    }

    /// Writes one outbound message (without flushing); `Err` says how the connection must close.
    async fn write(
        &self,
        socket: &mut Socket,
        message: LayerMessage,
        pending: &mut VecDeque<Incoming>,
    ) -> Result<(), Close> {
        let frame = match message {
            LayerMessage::Text(text) => WsMessage::Text(text),
            LayerMessage::Binary(bytes) => WsMessage::Binary(bytes),
            LayerMessage::Close(code) => return Err(Close::Send(CloseCode::from(code), "")),
            // Rejecting after the handshake has been accepted closes the socket, as in Channels.
            LayerMessage::Reject => return Err(Close::Send(CloseCode::Normal, "")),
            LayerMessage::Accept => return Ok(()),
            LayerMessage::Json(payload) => {
                self.queue_event(payload, pending);
                return Ok(());
            }
            LayerMessage::Http(_) => {
                tracing::warn!(
                    channel = self.inbox.name(),
                    "HTTP response sent to a WebSocket reply channel; dropped"
                );
                return Ok(());
            }
        };
        // `poll_ready` + `start_send` by hand rather than `feed`: same effect, less state per connection.
        let written = match std::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await {
            Ok(()) => socket.start_send_unpin(frame),
            Err(error) => Err(error),
        };
        written.map_err(|error| {
            tracing::debug!(%error, "write failed");
            Close::Received(1006)
        })
    }

    fn queue_event(&self, payload: Arc<Map<String, Value>>, pending: &mut VecDeque<Incoming>) {
        let Some(kind) = payload
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            tracing::warn!(
                channel = self.inbox.name(),
                "message without `type` sent to a connection; dropped"
            );
            return;
        };
        if self.bindings.events.is_none() {
            tracing::warn!(channel = self.inbox.name(), event = %kind, "typed event sent to a connection whose consumer takes no events; dropped");
            return;
        }
        if pending.len() >= self.max_pending.saturating_mul(4) {
            tracing::warn!(channel = self.inbox.name(), event = %kind, "connection's event backlog is full; event dropped");
            return;
        }
        pending.push_back(Incoming::Event(kind, payload));
    }

    fn dispatch(&self, incoming: Incoming, order: u64) -> Option<Running> {
        let (consumer, builder): (Option<&Consumer>, MessageBuilder) = match incoming {
            Incoming::Text(text) => (
                self.bindings.receive.as_ref(),
                MessageBuilder::new(events::WEBSOCKET_RECEIVE, self.scope.clone()).text(text),
            ),
            Incoming::Binary(bytes) => (
                self.bindings.receive.as_ref(),
                MessageBuilder::new(events::WEBSOCKET_RECEIVE, self.scope.clone()).bytes(bytes),
            ),
            Incoming::Event(kind, payload) => (
                self.bindings.events.as_ref(),
                MessageBuilder::new(kind, self.scope.clone()).payload(payload),
            ),
        };
        // No receive route for this path: frames are read and ignored, as in Channels.
        let consumer = consumer?;
        let message = builder.order(order).build(self.reply.clone());
        let event: &'static str = if message.channel() == events::WEBSOCKET_RECEIVE {
            events::WEBSOCKET_RECEIVE
        } else {
            "event"
        };
        let run = invoke::start(consumer, message, &self.layer);
        Some((consumer.name(), event, run))
    }
}
