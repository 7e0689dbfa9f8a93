//! The serve loop of a connection: wait for one thing ([`Connection::poll_wake`]), hand it to a small
//! synchronous step that says what to do next ([`Next`]), and do it. Only writing, flushing and closing
//! wait; every decision is a plain function of the connection's state.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::futures::Notified;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::{Close, Connection, Ended, Incoming, Running, Socket};
use crate::layer::LayerMessage;
use crate::server::invoke::{self, Failure};

/// What woke the connection.
enum Wake {
    Outbound(LayerMessage),
    Finished(Result<(), Failure>),
    Frame(Option<Result<WsMessage, WsError>>),
    Shutdown,
}

/// What the serve loop does next, as the step before decided.
enum Next {
    /// Wait for the next thing to happen.
    Serve,
    /// Flush the socket (a written batch, an answer to a ping), then wait.
    Flush,
    /// Close the connection this way.
    Close(Close),
    /// The peer has gone: end with this code, nothing left to send.
    End(u16),
}

/// The serve loop's state between two wakes. (The consumer run in progress stays in `serve`'s own
/// `running`: moved in here, it would be stored twice in every connection's future.)
struct Serving {
    /// Events read (or sent to the connection) and not yet dispatched, in order.
    pending: VecDeque<Incoming>,
    /// Whether the last wake wrote outbound messages (then the others go first).
    just_wrote: bool,
    /// Whether the shutdown signal has been polled once (it wakes this task from then on).
    stop_registered: bool,
}

impl Connection {
    /// Serves the socket until it closes; `order` counts the events dispatched (connect is 0).
    ///
    /// Each turn of the loop starts the next event if no consumer runs, waits for one thing to happen
    /// ([`poll_wake`](Self::poll_wake)), hands it to a small step that says what to do next ([`Next`]),
    /// and does that ([`act`](Self::act)). Only writing, flushing and closing wait.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in `run`
    pub(super) fn serve<'a>(
        &'a mut self,
        socket: &'a mut Socket,
        mut running: Option<Running>,
        order: &'a mut u64,
    ) -> impl Future<Output = Ended> + Send + 'a {
        // An `async` block rather than an `async fn`, for the same reason as in `run`.
        async move {
            let shutdown = self.shutdown.clone();
            let mut stopping = std::pin::pin!(shutdown.raised());
            let mut state = Serving {
                pending: VecDeque::new(),
                just_wrote: false,
                stop_registered: false,
            };
            let first = if shutdown.is_raised() {
                Next::Close(Close::Send(CloseCode::Away, "server shutting down"))
            } else {
                self.write_early(socket, &mut state.pending).await
            };
            if let Some(ended) = self.act(socket, first).await {
                return ended;
            }
            loop {
                if self.start_next(&mut state, &mut running, order) {
                    // Each event counts against tokio's cooperative budget: a connection with a long
                    // backlog (a burst sender) yields now and then, so the connections its consumers send
                    // to get to write too.
                    tokio::task::coop::consume_budget().await;
                }
                let wake = std::future::poll_fn(|cx| {
                    self.poll_wake(
                        cx,
                        socket,
                        &mut state,
                        &mut running,
                        &shutdown,
                        stopping.as_mut(),
                    )
                })
                .await;
                state.just_wrote = matches!(wake, Wake::Outbound(_));
                let next = match wake {
                    Wake::Outbound(message) => {
                        self.write_batch(socket, message, &mut state.pending).await
                    }
                    Wake::Finished(outcome) => finished(&mut running, outcome),
                    Wake::Frame(frame) => received(frame, &mut state.pending),
                    Wake::Shutdown => {
                        Next::Close(Close::Send(CloseCode::Away, "server shutting down"))
                    }
                };
                // `next` lives only here, not across the wait above: it is not part of every idle
                // connection's state.
                if let Some(ended) = self.act(socket, next).await {
                    return ended;
                }
            }
        }
    }

    /// Does what a step decided; `Some` when the connection has ended.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in `run`
    fn act<'a>(
        &'a self,
        socket: &'a mut Socket,
        next: Next,
    ) -> impl Future<Output = Option<Ended>> + Send + 'a {
        async move {
            match next {
                Next::Serve => None,
                Next::Flush => match socket.flush().await {
                    Ok(()) => None,
                    Err(_) => Some(Ended { code: 1006 }),
                },
                Next::Close(close) => Some(self.close(socket, close).await),
                Next::End(code) => Some(Ended { code }),
            }
        }
    }

    /// Writes what the connect consumer sent before the upgrade completed.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in `run`
    fn write_early<'a>(
        &'a mut self,
        socket: &'a mut Socket,
        pending: &'a mut VecDeque<Incoming>,
    ) -> impl Future<Output = Next> + Send + 'a {
        async move {
            for message in std::mem::take(&mut self.early) {
                if let Err(close) = self.write(socket, message, pending).await {
                    return Next::Close(close);
                }
            }
            Next::Flush
        }
    }

    /// Starts the next buffered event if no consumer is running; says whether it started one.
    fn start_next(
        &self,
        state: &mut Serving,
        running: &mut Option<Running>,
        order: &mut u64,
    ) -> bool {
        if running.is_some() {
            return false;
        }
        let Some(next) = state.pending.pop_front() else {
            return false;
        };
        *running = self.dispatch(next, *order);
        *order += 1;
        true
    }

    /// Polls, in order, what consumers sent, the running consumer, the socket and the shutdown signal, and
    /// says which is ready. Right after a batch was written the others go first, so that a flood of outbound
    /// messages can't starve reading (a close frame, a ping, the client's own messages).
    fn poll_wake(
        &self,
        cx: &mut Context<'_>,
        socket: &mut Socket,
        state: &mut Serving,
        running: &mut Option<Running>,
        shutdown: &crate::server::Shutdown,
        stopping: Pin<&mut Notified<'_>>,
    ) -> Poll<Wake> {
        if !state.just_wrote
            && let Some(message) = self.inbox.try_recv()
        {
            return Poll::Ready(Wake::Outbound(message));
        }
        // The running consumer's own sends need not wake this task: the inbox is checked (and the
        // wake-up registered again) below, before this task sleeps.
        self.inbox.disarm();
        if let Some((_, _, run)) = running.as_mut()
            && let Poll::Ready(outcome) = Pin::new(run).poll(cx)
        {
            return Poll::Ready(Wake::Finished(outcome));
        }
        // While a consumer runs, at most `max_pending` frames wait; past that, reading pauses.
        if state.pending.len() < self.max_pending
            && let Poll::Ready(frame) = socket.poll_next_unpin(cx)
        {
            return Poll::Ready(Wake::Frame(frame));
        }
        // Registered with the first poll; after that the flag says it (cheaper than polling the
        // `Notified` each time, and a raise still wakes this task).
        if shutdown.is_raised() {
            return Poll::Ready(Wake::Shutdown);
        }
        if !state.stop_registered {
            state.stop_registered = true;
            if stopping.poll(cx).is_ready() {
                return Poll::Ready(Wake::Shutdown);
            }
        }
        if let Poll::Ready(message) = self.inbox.poll_recv(cx) {
            return Poll::Ready(Wake::Outbound(message));
        }
        Poll::Pending
    }

    /// Writes `first` and whatever else is ready (up to a batch), to be flushed once.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in `run`
    fn write_batch<'a>(
        &'a self,
        socket: &'a mut Socket,
        first: LayerMessage,
        pending: &'a mut VecDeque<Incoming>,
    ) -> impl Future<Output = Next> + Send + 'a {
        async move {
            let mut outcome = self.write(socket, first, pending).await;
            let mut budget = 64;
            while outcome.is_ok() && budget > 0 {
                let Some(message) = self.inbox.try_recv() else {
                    break;
                };
                outcome = self.write(socket, message, pending).await;
                budget -= 1;
            }
            match outcome {
                Ok(()) => Next::Flush,
                Err(close) => Next::Close(close),
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
}

/// A consumer run has ended: the connection carries on, or closes with 1011 when the consumer failed.
fn finished(running: &mut Option<Running>, outcome: Result<(), Failure>) -> Next {
    let Some((consumer, event, _)) = running.take() else {
        return Next::Serve;
    };
    let Err(failure) = outcome else {
        return Next::Serve;
    };
    invoke::log_failure(consumer, event, &failure);
    let reason = match failure {
        Failure::Error(_) => "consumer error",
        Failure::Panic(_) => "consumer panicked",
    };
    Next::Close(Close::Send(CloseCode::Error, reason))
}

/// A frame (or the end of the stream) has arrived: buffer data for dispatch, or say how to close.
fn received(frame: Option<Result<WsMessage, WsError>>, pending: &mut VecDeque<Incoming>) -> Next {
    match frame {
        Some(Ok(WsMessage::Text(text))) => {
            pending.push_back(Incoming::Text(text));
            Next::Serve
        }
        Some(Ok(WsMessage::Binary(bytes))) => {
            pending.push_back(Incoming::Binary(bytes));
            Next::Serve
        }
        Some(Ok(WsMessage::Close(frame))) => {
            Next::Close(Close::Received(frame.map_or(1005, |f| u16::from(f.code))))
        }
        // Ping or pong: tungstenite answers pings on the next flush.
        Some(Ok(_)) => Next::Flush,
        Some(Err(error)) => match &error {
            WsError::Capacity(_) => {
                Next::Close(Close::BadInput(CloseCode::Size, "message too big", error))
            }
            WsError::Utf8(_) => Next::Close(Close::BadInput(
                CloseCode::Invalid,
                "invalid UTF-8 in text frame",
                error,
            )),
            WsError::Protocol(_) => Next::Close(Close::BadInput(
                CloseCode::Protocol,
                "protocol error",
                error,
            )),
            _ => {
                tracing::debug!(%error, "connection dropped");
                Next::End(1006)
            }
        },
        None => Next::End(1006),
    }
}
