//! The serve loop of a connection: wait for one thing ([`Connection::poll_wake`]), hand it to a small
//! synchronous step that says what to do next ([`Next`]), and do it. Only flushing and closing wait
//! (`write`); every decision is a plain function of the connection's state.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use tokio::sync::futures::Notified;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};

use super::clock::{Clock, Due};
use super::wire::Opcode;
use super::write::Flushed;
use super::{Close, Connection, Ended, Incoming, Running, Slow, Socket};
use crate::layer::LayerMessage;
use crate::server::invoke::{self, Failure};
use crate::server::observe;

/// What woke the connection.
enum Wake {
    Outbound(LayerMessage),
    Finished(Result<(), Failure>),
    Frame(Option<Result<WsMessage, WsError>>),
    Shutdown,
    /// The reply channel went past its byte budget (and was closed for it).
    OverBudget,
    /// Something came due on the connection's clock: a ping to send, a peer gone quiet, its lifetime.
    Clock(Due),
    /// A direct write left part of a frame (see `wire`): the connection writes the rest.
    Rest,
}

/// What the serve loop does next, as the step before decided.
pub(super) enum Next {
    /// Wait for the next thing to happen.
    Serve,
    /// Flush the socket (a written batch, an answer to a ping), then wait.
    Flush,
    /// Close the connection this way.
    Close(Close),
    /// The peer has gone: end with this code, nothing left to send.
    End(u16),
    /// The server gives up on a peer that has stopped answering: drop the TCP connection without a
    /// closing handshake (nobody would answer it), the disconnect getting this code, for this reason.
    Drop(u16, &'static str),
}

/// Events read (or sent to the connection) and not yet dispatched, in order.
///
/// Almost always at most one, taken as soon as it came (no consumer is running): that one is kept
/// inline, so a connection that has seen a message holds no queue on the heap for it (a `VecDeque`
/// keeps the room for four it allocated on its first event, 160 bytes, for the connection's life).
/// Only events that arrive while another waits go to `rest`.
#[derive(Default)]
pub(super) struct Pending {
    /// The oldest event; `None` only when `rest` is empty too.
    first: Option<Incoming>,
    /// The events behind `first`, in order.
    rest: VecDeque<Incoming>,
}

impl Pending {
    /// How many events wait.
    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// Queues an event behind the others.
    pub(super) fn push_back(&mut self, event: Incoming) {
        if self.first.is_none() {
            self.first = Some(event);
        } else {
            self.rest.push_back(event);
        }
    }

    /// Takes the oldest event.
    pub(super) fn pop_front(&mut self) -> Option<Incoming> {
        let event = self.first.take()?;
        if !self.rest.is_empty() {
            self.first = self.rest.pop_front();
        } else if self.rest.capacity() > 0 {
            // A backlog has drained: an idle connection keeps no queue. (Only once all is taken, not
            // each time `rest` empties: a client a message ahead would allocate one per message.)
            self.rest = VecDeque::new();
        }
        Some(event)
    }
}

/// The serve loop's state between two wakes. (The consumer run in progress stays in `serve`'s own
/// `running`: moved in here, it would be stored twice in every connection's future.)
struct Serving {
    /// Events read (or sent to the connection) and not yet dispatched, in order.
    pending: Pending,
    /// Whether the last wake wrote outbound messages (then the others go first).
    just_wrote: bool,
    /// Whether the shutdown signal has been polled once (it wakes this task from then on).
    stop_registered: bool,
    /// Pings and the maximum lifetime, when either is on.
    clock: Option<Clock>,
}

impl Connection {
    /// Serves the socket until it closes; `order` counts the events dispatched (connect is 0).
    ///
    /// Each turn of the loop waits for one thing to happen ([`poll_wake`](Self::poll_wake), which also
    /// starts the next event whenever no consumer runs), hands it to a small step that says what to do
    /// next ([`Next`]), and does that ([`act`](Self::act)). Only writing, flushing and closing wait.
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
                pending: Pending::default(),
                just_wrote: false,
                stop_registered: false,
                clock: Clock::new(&self.clock),
            };
            let first = if shutdown.is_raised() {
                Next::Close(Close::Send(
                    CloseCode::Away,
                    Utf8Bytes::from_static("server shutting down"),
                ))
            } else {
                self.write_early(socket, &mut state.pending)
            };
            if let Some(ended) = self.act(socket, first).await {
                return ended;
            }
            loop {
                // `wake` in a block of its own: its storage then ends before `act` waits, and is not kept
                // beside `act`'s state in every connection's future (56 bytes).
                let next = {
                    let wake = std::future::poll_fn(|cx| {
                        self.poll_wake(
                            cx,
                            socket,
                            &mut state,
                            (&mut running, &mut *order),
                            &shutdown,
                            stopping.as_mut(),
                        )
                    })
                    .await;
                    state.just_wrote = matches!(wake, Wake::Outbound(_));
                    match wake {
                        Wake::Outbound(message) => {
                            self.write_batch(socket, message, &mut state.pending)
                        }
                        Wake::Finished(outcome) => finished(&mut running, outcome),
                        Wake::Frame(frame) => {
                            if let Some(clock) = &mut state.clock {
                                clock.seen();
                            }
                            received(frame, &mut state.pending)
                        }
                        Wake::Clock(due) => self.on_clock(socket, due),
                        Wake::Shutdown => Next::Close(Close::Send(
                            CloseCode::Away,
                            Utf8Bytes::from_static("server shutting down"),
                        )),
                        Wake::OverBudget => Next::Close(Close::Slow(Slow::OverBudget)),
                        Wake::Rest => Next::Flush,
                    }
                };
                // `next` lives only here, not across the wait above: it is not part of every idle
                // connection's state. The usual step (serve on) skips `act`: its future is made, polled
                // and dropped for nothing otherwise, twice per echo.
                if !matches!(next, Next::Serve)
                    && let Some(ended) = self.act(socket, next).await
                {
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
                Next::Flush => match self.flush(socket).await {
                    Flushed::Done => None,
                    Flushed::Failed => {
                        self.closed(1006, "write failed", observe::ClosedBy::Client);
                        Some(Ended { code: 1006 })
                    }
                    Flushed::Slow(slow) => Some(self.close(socket, Close::Slow(slow)).await),
                },
                Next::Close(close) => Some(self.close(socket, close).await),
                Next::End(code) => {
                    self.closed(code, "", observe::ClosedBy::Client);
                    Some(Ended { code })
                }
                Next::Drop(code, reason) => {
                    self.closed(code, reason, observe::ClosedBy::Server);
                    Some(Ended { code })
                }
            }
        }
    }

    /// What the clock asks: a ping (queued on the wire, then flushed), dropping a peer that stopped
    /// answering (no closing handshake: nobody would answer it; the disconnect gets 1006, as Daphne's
    /// ping timeout), or closing at the end of the connection's lifetime (1001).
    fn on_clock(&self, socket: &mut Socket, due: Due) -> Next {
        match due {
            Due::Ping => {
                socket.get_mut().push(Opcode::Ping, bytes::Bytes::new(), 0);
                Next::Flush
            }
            Due::Unanswered => {
                tracing::debug!(
                    channel = self.inbox.name(),
                    timeout = ?self.clock.ping_timeout(),
                    "peer did not answer a ping in time; dropping the connection"
                );
                Next::Drop(1006, "ping timeout")
            }
            Due::Lifetime => {
                tracing::debug!(
                    channel = self.inbox.name(),
                    "connection reached its maximum lifetime; closing with 1001"
                );
                Next::Close(Close::Send(
                    CloseCode::Away,
                    Utf8Bytes::from_static("connection lifetime reached"),
                ))
            }
        }
    }

    /// Starts the next buffered event (no consumer is running).
    fn start_next(&self, state: &mut Serving, running: &mut Option<Running>, order: &mut u64) {
        if let Some(next) = state.pending.pop_front() {
            *running = self.dispatch(next, *order);
            *order += 1;
        }
    }

    /// Starts the next waiting event when no consumer runs, then polls, in order, what consumers sent, the
    /// running consumer, the socket and the shutdown signal, and says which is ready. Right after a batch
    /// was written the others go first, so that a flood of outbound messages can't starve reading (a close
    /// frame, a ping, the client's own messages).
    ///
    /// What the serve loop would only answer by coming back here (a data frame read, a run that ended
    /// well) is dealt with here, from the top: an echo is one wake, not three turns of the loop.
    fn poll_wake(
        &self,
        cx: &mut Context<'_>,
        socket: &mut Socket,
        state: &mut Serving,
        (running, order): (&mut Option<Running>, &mut u64),
        shutdown: &crate::server::Shutdown,
        mut stopping: Pin<&mut Notified<'_>>,
    ) -> Poll<Wake> {
        loop {
            if running.is_none() && state.pending.len() > 0 {
                // Each event counts against tokio's cooperative budget: a connection with a long
                // backlog (a burst sender) yields now and then, so the connections its consumers send
                // to get to write too.
                futures_util::ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                self.start_next(state, running, order);
            }
            // One atomic load: a client past its budget is closed before anything else is done for it.
            if self.inbox.queue().is_overflowed() {
                return Poll::Ready(Wake::OverBudget);
            }
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
                if outcome.is_err() {
                    return Poll::Ready(Wake::Finished(outcome));
                }
                // A run that went well: the serve loop would only come back here.
                *running = None;
                state.just_wrote = false;
                continue;
            }
            // While a consumer runs, at most `max_pending` frames wait; past that, reading pauses.
            if state.pending.len() < self.max_pending()
                && let Poll::Ready(frame) = socket.poll_next_unpin(cx)
            {
                if !matches!(frame, Some(Ok(WsMessage::Text(_) | WsMessage::Binary(_)))) {
                    return Poll::Ready(Wake::Frame(frame));
                }
                // Data: queued (and started, from the top) as the serve loop would.
                if let Some(clock) = &mut state.clock {
                    clock.seen();
                }
                received(frame, &mut state.pending);
                state.just_wrote = false;
                continue;
            }
            let paused = state.pending.len() >= self.max_pending();
            if let Some(clock) = &mut state.clock
                && let Poll::Ready(due) = clock.poll_due(cx, paused)
            {
                return Poll::Ready(Wake::Clock(due));
            }
            // Registered with the first poll; after that the flag says it (cheaper than polling the
            // `Notified` each time, and a raise still wakes this task).
            if shutdown.is_raised() {
                return Poll::Ready(Wake::Shutdown);
            }
            if !state.stop_registered {
                state.stop_registered = true;
                if stopping.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Shutdown);
                }
            }
            if let Poll::Ready(message) = self.inbox.poll_recv(cx) {
                return Poll::Ready(Wake::Outbound(message));
            }
            // Looked at after registering with the inbox: a direct write that leaves a rest wakes it
            // (and writing it out comes before anything else the wire writes).
            if socket.get_ref().direct_pending() {
                return Poll::Ready(Wake::Rest);
            }
            return Poll::Pending;
        }
    }
}

/// A consumer run has ended: the connection carries on, or closes with 1011 when the consumer failed
/// (unless its error mode keeps the connection open: Channels 1.x's, see `routing::ErrorMode`).
fn finished(running: &mut Option<Running>, outcome: Result<(), Failure>) -> Next {
    let Some((consumer, event, _)) = running.take() else {
        return Next::Serve;
    };
    let Err(failure) = outcome else {
        return Next::Serve;
    };
    invoke::log_failure(consumer, event, &failure);
    let reason = match &failure {
        Failure::Error(error) if error.keeps_connection_open() => {
            tracing::warn!(
                consumer,
                event,
                "connection kept open after the error (errors = \"keep_open\")"
            );
            return Next::Serve;
        }
        Failure::Error(error) => error
            .downcast_ref::<crate::routing::DispatchError>()
            .map_or(
                "consumer error",
                crate::routing::DispatchError::close_reason,
            ),
        Failure::Panic(_) => "consumer panicked",
    };
    Next::Close(Close::Send(
        CloseCode::Error,
        Utf8Bytes::from_static(reason),
    ))
}

/// A frame (or the end of the stream) has arrived: buffer data for dispatch, or say how to close.
fn received(frame: Option<Result<WsMessage, WsError>>, pending: &mut Pending) -> Next {
    if let Some(Ok(WsMessage::Text(_) | WsMessage::Binary(_))) = &frame {
        crate::metrics::message_received();
    }
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
            // The peer went away without a close frame: an abnormal closure, not bad input.
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                tracing::debug!("peer closed the TCP connection without a close frame (1006)");
                Next::End(1006)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(i: usize) -> Incoming {
        Incoming::Text(Utf8Bytes::from(i.to_string()))
    }

    fn taken(pending: &mut Pending) -> Option<String> {
        match pending.pop_front()? {
            Incoming::Text(text) => Some(text.to_string()),
            _ => panic!("only text was queued"),
        }
    }

    #[test]
    fn one_event_at_a_time_needs_no_queue() {
        let mut pending = Pending::default();
        for i in 0..100 {
            pending.push_back(text(i));
            assert_eq!(pending.len(), 1);
            assert_eq!(taken(&mut pending).as_deref(), Some(i.to_string().as_str()));
            assert_eq!(pending.rest.capacity(), 0, "nothing allocated");
        }
        assert!(taken(&mut pending).is_none());
    }

    #[test]
    fn a_backlog_comes_out_in_order_and_its_queue_goes_once_drained() {
        let mut pending = Pending::default();
        for i in 0..10 {
            pending.push_back(text(i));
        }
        assert_eq!(pending.len(), 10);
        // Events arriving while the backlog drains queue behind it.
        for i in 0..5 {
            assert_eq!(taken(&mut pending), Some(i.to_string()));
        }
        pending.push_back(text(10));
        for i in 5..11 {
            assert_eq!(taken(&mut pending), Some(i.to_string()));
        }
        assert_eq!(pending.len(), 0);
        assert!(taken(&mut pending).is_none());
        assert_eq!(
            pending.rest.capacity(),
            0,
            "the drained backlog's queue is given back"
        );
    }
}
