//! One accepted WebSocket: reads frames, dispatches events in order, writes what the consumers send.
//!
//! The task selects over three things at once: the socket, the connection's reply channel (its inbox),
//! and the consumer run in progress. So whatever a consumer sends leaves while it is still running, and a
//! looping consumer never blocks the reply path. Events are dispatched one at a time, in order; while a
//! consumer runs, up to [`ServerConfig::max_pending_events`](super::ServerConfig) incoming frames are
//! buffered, then reading pauses (TCP backpressure).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
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
    pub(crate) shutdown: tokio::sync::watch::Receiver<bool>,
}

/// A consumer run in progress: its name, the event it handles, and the run itself.
pub(crate) type Running = (&'static str, &'static str, RunFuture);

enum Incoming {
    Text(tokio_tungstenite::tungstenite::Utf8Bytes),
    Binary(bytes::Bytes),
    Event(String, Arc<Map<String, Value>>),
}

/// Resolves when the server starts shutting down; never if the server handle went away without it.
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    if shutdown.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Why the loop ended, which decides the disconnect message's `code`.
struct Ended {
    code: u16,
}

impl Connection {
    /// Runs the connection to its end, then the disconnect consumer, then leaves the declared groups.
    ///
    /// `running` is the connect consumer, if it accepted and is still running.
    pub(crate) async fn run(mut self, mut socket: Socket, running: Option<Running>) {
        // A consumer still running when the connection closes is cancelled: `serve` drops it on return.
        let mut order: u64 = 1;
        let ended = self.serve(&mut socket, running, &mut order).await;
        if let Some(consumer) = self.bindings.disconnect.clone() {
            let message = MessageBuilder::new(events::WEBSOCKET_DISCONNECT, self.scope.clone())
                .order(order) // the next after the last event dispatched, as ASGI numbers them
                .code(ended.code)
                .build(self.reply.clone());
            if let Err(failure) = invoke::start(&consumer, message, &self.layer).await {
                invoke::log_failure(consumer.name(), events::WEBSOCKET_DISCONNECT, &failure);
            }
        }
        super::leave_groups(&self.layer, self.inbox.name(), &self.bindings.groups).await;
    }

    /// Serves the socket until it closes; `order` counts the events dispatched (connect is 0).
    async fn serve(
        &mut self,
        socket: &mut Socket,
        mut running: Option<Running>,
        order: &mut u64,
    ) -> Ended {
        let mut pending: VecDeque<Incoming> = VecDeque::new();
        let mut closing: Option<u16> = None;
        let mut shutdown = self.shutdown.clone();
        let close_deadline = tokio::time::sleep(Duration::MAX / 4);
        tokio::pin!(close_deadline);

        for message in std::mem::take(&mut self.early) {
            if let Some(code) = self.write_one(socket, message, &mut pending).await {
                closing = Some(code);
            }
        }
        if socket.flush().await.is_err() {
            return Ended { code: 1006 };
        }

        loop {
            // Start the next event when nothing is running.
            if running.is_none()
                && closing.is_none()
                && let Some(next) = pending.pop_front()
            {
                running = self.dispatch(next, *order);
                *order += 1;
            }
            let can_read = pending.len() < self.max_pending || closing.is_some();
            let has_running = running.is_some();
            let current = &mut running;
            let run_next = std::future::poll_fn(|cx| match current {
                Some((_, _, run)) => std::pin::Pin::new(run).poll(cx),
                None => std::task::Poll::Pending,
            });
            tokio::select! {
                biased;
                message = self.inbox.recv() => {
                    if let Some(code) = self.write_one(socket, message, &mut pending).await {
                        closing.get_or_insert(code);
                    }
                    // Batch whatever else is ready before flushing once.
                    let mut budget = 64;
                    while budget > 0 {
                        let Some(message) = self.inbox.try_recv() else { break };
                        if let Some(code) = self.write_one(socket, message, &mut pending).await {
                            closing.get_or_insert(code);
                        }
                        budget -= 1;
                    }
                    if socket.flush().await.is_err() {
                        return Ended { code: closing.unwrap_or(1006) };
                    }
                    if closing.is_some() {
                        close_deadline.as_mut().reset(tokio::time::Instant::now() + self.close_timeout);
                    }
                }
                outcome = run_next, if has_running => {
                    let Some((consumer, event, _)) = running.take() else { continue };
                    if let Err(failure) = outcome {
                        invoke::log_failure(consumer, event, &failure);
                        if closing.is_none() {
                            let reason = match failure { Failure::Error(_) => "consumer error", Failure::Panic(_) => "consumer panicked" };
                            let _ = socket.close(Some(CloseFrame { code: CloseCode::Error, reason: reason.into() })).await;
                            closing = Some(1011);
                            close_deadline.as_mut().reset(tokio::time::Instant::now() + self.close_timeout);
                        }
                    }
                }
                frame = socket.next(), if can_read => {
                    match frame {
                        Some(Ok(WsMessage::Text(text))) if closing.is_none() => pending.push_back(Incoming::Text(text)),
                        Some(Ok(WsMessage::Binary(bytes))) if closing.is_none() => pending.push_back(Incoming::Binary(bytes)),
                        Some(Ok(WsMessage::Close(frame))) => {
                            // tungstenite queued the close reply; flushing sends it.
                            let _ = socket.flush().await;
                            let code = frame.map_or(1005, |f| u16::from(f.code));
                            return Ended { code: closing.unwrap_or(code) };
                        }
                        Some(Ok(_)) => {
                            // Ping/pong/late data while closing: tungstenite answers pings on the next flush.
                            let _ = socket.flush().await;
                        }
                        Some(Err(error)) => {
                            let (code, reason) = match &error {
                                WsError::Capacity(_) => (CloseCode::Size, "message too big"),
                                WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8 in text frame"),
                                WsError::Protocol(_) => (CloseCode::Protocol, "protocol error"),
                                _ => {
                                    tracing::debug!(%error, "connection dropped");
                                    return Ended { code: closing.unwrap_or(1006) };
                                }
                            };
                            tracing::info!(%error, code = u16::from(code), "closing connection: bad input from peer");
                            let _ = socket.close(Some(CloseFrame { code, reason: reason.into() })).await;
                            return Ended { code: u16::from(code) };
                        }
                        None => return Ended { code: closing.unwrap_or(1006) },
                    }
                }
                () = stopping(&mut shutdown), if closing.is_none() => {
                    let _ = socket.close(Some(CloseFrame { code: CloseCode::Away, reason: "server shutting down".into() })).await;
                    closing = Some(1001);
                    close_deadline.as_mut().reset(tokio::time::Instant::now() + self.close_timeout);
                }
                () = &mut close_deadline, if closing.is_some() => {
                    return Ended { code: closing.unwrap_or(1006) };
                }
            }
        }
    }

    /// Writes one outbound message (without flushing). Returns a close code if it closed the socket.
    async fn write_one(
        &self,
        socket: &mut Socket,
        message: LayerMessage,
        pending: &mut VecDeque<Incoming>,
    ) -> Option<u16> {
        let result = match message {
            LayerMessage::Text(text) => socket.feed(WsMessage::Text(text)).await,
            LayerMessage::Binary(bytes) => socket.feed(WsMessage::Binary(bytes)).await,
            LayerMessage::Close(code) => {
                let _ = socket
                    .close(Some(CloseFrame {
                        code: CloseCode::from(code),
                        reason: "".into(),
                    }))
                    .await;
                return Some(code);
            }
            LayerMessage::Reject => {
                // Rejecting after the handshake has been accepted closes the socket, as in Channels.
                let _ = socket.close(None).await;
                return Some(1000);
            }
            LayerMessage::Accept => Ok(()),
            LayerMessage::Json(payload) => {
                self.queue_event(payload, pending);
                Ok(())
            }
            LayerMessage::Http(_) => {
                tracing::warn!(
                    channel = self.inbox.name(),
                    "HTTP response sent to a WebSocket reply channel; dropped"
                );
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "write failed");
            return Some(1006);
        }
        None
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
