//! The write side of a connection: what consumers send becomes frames on the [`Wire`](super::wire),
//! flushed within the write timeout; built-in events act on the socket; a slow client is cast off; and
//! every way of closing, bounded by the close timeout.

use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::serve::{Next, Pending};
use super::wire::Opcode;
use super::{Action, Close, Connection, Ended, Slow, Socket, builtin_action};
use crate::layer::LayerMessage;
use crate::layer::queue::{Budget, cost_of};
use crate::server::observe;

/// How a flush ended.
pub(super) enum Flushed {
    Done,
    Failed,
    Slow(Slow),
}

impl Connection {
    /// Writes what the connect consumer sent before the upgrade completed.
    pub(super) fn write_early(&mut self, socket: &mut Socket, pending: &mut Pending) -> Next {
        for message in std::mem::take(&mut self.early) {
            if let Err(close) = self.write(socket, message, pending) {
                return Next::Close(close);
            }
        }
        Next::Flush
    }

    /// Flushes what was written, at most `write_timeout` once the socket is full, and no longer than the
    /// reply channel stays within its budget. The timer is made only when the first try can't finish.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in `run`
    pub(super) fn flush<'a>(
        &'a self,
        socket: &'a mut Socket,
    ) -> impl Future<Output = Flushed> + Send + 'a {
        async move {
            let queue = self.inbox.queue();
            let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
            std::future::poll_fn(|cx| {
                match socket.poll_flush_unpin(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Flushed::Done),
                    Poll::Ready(Err(error)) => {
                        tracing::debug!(%error, "write failed");
                        return Poll::Ready(Flushed::Failed);
                    }
                    Poll::Pending => {}
                }
                if queue.poll_overflow(cx).is_ready() {
                    return Poll::Ready(Flushed::Slow(Slow::OverBudget));
                }
                let timer =
                    timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(self.write_timeout())));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Flushed::Slow(Slow::WriteTimeout)),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        }
    }

    /// Writes `first` and whatever else is ready (up to a batch), to be flushed once.
    pub(super) fn write_batch(
        &self,
        socket: &mut Socket,
        first: LayerMessage,
        pending: &mut Pending,
    ) -> Next {
        let mut outcome = self.write(socket, first, pending);
        let mut budget = 64;
        while outcome.is_ok() && budget > 0 {
            let Some(message) = self.inbox.try_recv() else {
                break;
            };
            outcome = self.write(socket, message, pending);
            budget -= 1;
        }
        match outcome {
            Ok(()) => Next::Flush,
            Err(close) => Next::Close(close),
        }
    }

    /// Ends the connection the way `close` says: sends our close frame or answers the peer's, then (when
    /// we closed) waits for the peer to finish the closing handshake; all of it within `close_timeout`, so
    /// a client that doesn't read can't hold the connection open. Boxed: it runs once, and its state should
    /// not weigh on every idle connection.
    pub(super) fn close<'a>(
        &'a self,
        socket: &'a mut Socket,
        close: Close,
    ) -> futures_util::future::BoxFuture<'a, Ended> {
        Box::pin(async move {
            // Nothing may follow a close frame: from here on the connection alone writes, after what it
            // has.
            socket.get_mut().stop_direct();
            let (code, reason, wait_for_peer) = match close {
                Close::Received(code) => {
                    self.closed(code, "", observe::ClosedBy::Client);
                    // tungstenite queued the close reply; flushing sends it.
                    let _ = tokio::time::timeout(self.close_timeout(), socket.flush()).await;
                    return Ended { code };
                }
                Close::BadInput(code, reason, error) => {
                    tracing::info!(%error, code = u16::from(code), "closing connection: bad input from peer");
                    (code, Utf8Bytes::from_static(reason), false)
                }
                Close::Send(code, reason) => (code, reason, true),
                Close::Slow(slow) => {
                    let reason = self.cast_off(slow);
                    socket.get_mut().discard_unstarted();
                    (CloseCode::Again, Utf8Bytes::from_static(reason), false)
                }
            };
            self.closed(u16::from(code), &reason, observe::ClosedBy::Server);
            let closing = async {
                let _ = socket.close(Some(CloseFrame { code, reason })).await;
                if wait_for_peer {
                    while let Some(Ok(_)) = socket.next().await {}
                }
            };
            let _ = tokio::time::timeout(self.close_timeout(), closing).await;
            Ended {
                code: u16::from(code),
            }
        })
    }

    /// Gives up on a slow client: logs it (with its reply channel), counts a write timeout (an overflow
    /// was counted when it happened), and closes its reply channel, which frees what it held. Returns the
    /// close reason.
    fn cast_off(&self, slow: Slow) -> &'static str {
        let queue = self.inbox.queue();
        let reason = match slow {
            Slow::OverBudget => {
                tracing::warn!(
                    channel = self.inbox.name(),
                    budget = queue.budget().map_or(0, |b| b.bytes),
                    "slow client: past its outbound budget; closing with 1013"
                );
                crate::metrics::slow_client_closed("over_budget");
                "slow client: outbound budget exceeded"
            }
            Slow::WriteTimeout => {
                if let Some(budget) = queue.budget() {
                    Budget::count(&budget.timed_out);
                }
                tracing::warn!(
                    channel = self.inbox.name(),
                    timeout = ?self.write_timeout(),
                    held = queue.held(),
                    "slow client: a write waited past the write timeout; closing with 1013"
                );
                crate::metrics::slow_client_closed("write_timeout");
                "slow client: write timed out"
            }
        };
        queue.close();
        reason
    }

    /// Writes one outbound message (queues its frame on the wire, to go at the next flush); `Err` says how
    /// the connection must close. A message that is not written gives its bytes back to the budget now;
    /// a frame gives them back once the socket has taken it.
    fn write(
        &self,
        socket: &mut Socket,
        message: LayerMessage,
        pending: &mut Pending,
    ) -> Result<(), Close> {
        let cost = cost_of(&message);
        let queue = self.inbox.queue();
        let (opcode, payload) = match message {
            LayerMessage::Text(text) => (Opcode::Text, Bytes::from(text)),
            LayerMessage::Binary(bytes) => (Opcode::Binary, bytes),
            LayerMessage::Json(payload) => {
                return match builtin_action(&payload) {
                    None => {
                        queue.release(cost);
                        self.queue_event(payload, pending);
                        Ok(())
                    }
                    Some(action) => self.act_on_builtin(socket, action, cost),
                };
            }
            other => {
                queue.release(cost);
                return socket_action(other, self.inbox.name());
            }
        };
        socket.get_mut().push(opcode, payload, cost);
        Ok(())
    }

    /// Does what a built-in event (`websocket.send`, `websocket.close`, `websocket.accept`) asks, as
    /// Channels' protocol server does.
    fn act_on_builtin(
        &self,
        socket: &mut Socket,
        action: Result<Action, String>,
        cost: usize,
    ) -> Result<(), Close> {
        let (opcode, payload) = match action {
            Ok(Action::Send(LayerMessage::Text(text))) => (Opcode::Text, Bytes::from(text)),
            Ok(Action::Send(LayerMessage::Binary(bytes))) => (Opcode::Binary, bytes),
            Ok(Action::Close(code, reason)) => {
                return Err(Close::Send(CloseCode::from(code), reason));
            }
            Err(problem) => {
                tracing::warn!(channel = self.inbox.name(), %problem, "malformed built-in event; dropped");
                self.inbox.queue().release(cost);
                return Ok(());
            }
            // `websocket.accept` once accepted, `websocket.send` with nothing to send.
            Ok(_) => {
                self.inbox.queue().release(cost);
                return Ok(());
            }
        };
        socket.get_mut().push(opcode, payload, cost);
        Ok(())
    }
}

/// What a message that is not a frame does to an open socket.
fn socket_action(message: LayerMessage, channel: &str) -> Result<(), Close> {
    match message {
        LayerMessage::Close(code) => Err(Close::Send(CloseCode::from(code), Utf8Bytes::default())),
        // Rejecting after the handshake has been accepted closes the socket, as in Channels.
        LayerMessage::Reject => Err(Close::Send(CloseCode::Normal, Utf8Bytes::default())),
        LayerMessage::Http(_) => {
            tracing::warn!(
                channel,
                "HTTP response sent to a WebSocket reply channel; dropped"
            );
            Ok(())
        }
        _ => Ok(()),
    }
}
