//! One accepted WebSocket: reads frames, dispatches events in order, writes what the consumers send.
//!
//! The task waits on three things at once: the connection's reply channel (its inbox), the consumer run
//! in progress, and the socket. So whatever a consumer sends leaves while it is still running, and a
//! looping consumer never blocks the reply path. Events are dispatched one at a time, in order; while a
//! consumer runs, up to [`ServerConfig::max_pending_events`](crate::ServerConfig) incoming frames are
//! buffered, then reading pauses (TCP backpressure).
//!
//! The wait is one hand-written poll (not `select!`), so that the state kept per idle connection is small:
//! this future lives as long as the connection.
//!
//! Here: what a connection owns ([`Endpoint`], [`Connection`]), its life from upgrade to disconnect, and
//! how an event becomes a consumer run. `serve`: the loop that waits and the steps it takes. `write`: what
//! consumers send, to the socket, and every way of closing. `wire`: the socket writer that shares group
//! payloads instead of copying them. `builtin`: the typed events (`websocket.send`, ...) the connection
//! acts on itself. `clock`: pings, the ping timeout and the maximum lifetime.

mod builtin;
mod clock;
mod serve;
mod wire;
mod write;

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::Either;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Utf8Bytes};

use super::bindings::Bindings;
use super::invoke::{self, RunFuture};
use crate::ReplyChannel;
use crate::layer::{ChannelLayer, Inbox, LayerMessage};
use crate::message::{MessageBuilder, Scope, events};
use crate::routing::{Consumer, ConsumerError, DispatchError, ErrorMode};

pub(crate) use self::builtin::{Accept, Action, action as builtin_action, valid_token};

pub(crate) type Socket = WebSocketStream<wire::Wire>;

/// What a WebSocket is from the moment its handshake is matched to routes: enough to run its disconnect
/// consumer and leave its declared groups, whatever ends it.
pub(crate) struct Endpoint {
    pub(crate) scope: Arc<Scope>,
    pub(crate) inbox: Inbox,
    pub(crate) reply: ReplyChannel,
    pub(crate) bindings: Bindings,
    pub(crate) layer: Arc<dyn ChannelLayer>,
    /// Counts this connection as open until it is dropped, disconnect consumer included.
    pub(crate) tracked: super::TrackerGuard,
}

impl Endpoint {
    /// Runs the disconnect consumer (as the `order`-th event, with `code`), then leaves the declared
    /// groups.
    pub(crate) async fn finish(self, order: u64, code: u16) {
        if let Some(consumer) = self.bindings.disconnect.clone() {
            let message = MessageBuilder::new(events::WEBSOCKET_DISCONNECT, self.scope.clone())
                .order(order) // the next after the last event dispatched, as ASGI numbers them
                .code(code)
                .build(self.reply.clone());
            if let Err(failure) = invoke::start(&consumer, message, &self.layer).await {
                invoke::log_failure(consumer.name(), events::WEBSOCKET_DISCONNECT, &failure);
            }
        }
        crate::session::sync::forget(&self.layer, self.inbox.name(), &self.scope.session).await;
        self.leave().await;
    }

    /// Leaves the declared groups (no consumer has run: nothing else is owed).
    pub(crate) async fn leave(self) {
        super::leave_groups(&self.layer, self.inbox.name(), &self.bindings.groups).await;
    }
}

/// An [`Endpoint`] whose end is owed by the handshake: dropped before it is handed on (the client went
/// away while the connect consumer ran, so hyper dropped the handshake), or [`end`](Self::end)ed
/// (refused), it runs its disconnect in a task of its own (code 1006, as Daphne reports a handshake that
/// never opened) once the connect event has been dispatched, and leaves its groups in any case.
pub(crate) struct Owed {
    endpoint: Option<Endpoint>,
    dispatched: bool,
}

impl Owed {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Owed {
            endpoint: Some(endpoint),
            dispatched: false,
        }
    }

    /// The connect event has been dispatched: from now on a disconnect is owed.
    pub(crate) fn dispatched(&mut self) {
        self.dispatched = true;
    }

    /// Hands the endpoint on (to its connection): nothing is owed here any more.
    pub(crate) fn take(mut self) -> Option<Endpoint> {
        self.endpoint.take()
    }

    /// Ends the endpoint now (the handshake was refused): see the type's docs.
    pub(crate) fn end(self) {
        drop(self);
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        let Some(endpoint) = self.endpoint.take() else {
            return;
        };
        let dispatched = self.dispatched;
        let ending = async move {
            if dispatched {
                endpoint.finish(1, 1006).await;
            } else {
                endpoint.leave().await;
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(tracing::Instrument::in_current_span(ending))),
            Err(_) => tracing::warn!("runtime gone: a refused connection's disconnect is skipped"),
        }
    }
}

/// Everything a connection owns after the handshake.
///
/// Every open connection keeps one, in its task's state: what the server's config says (timeouts, the
/// backlog's length) is read through the one pointer of `clock` rather than copied here.
pub(crate) struct Connection {
    pub(crate) scope: Arc<Scope>,
    pub(crate) inbox: Inbox,
    pub(crate) reply: ReplyChannel,
    pub(crate) bindings: Bindings,
    pub(crate) layer: Arc<dyn ChannelLayer>,
    /// Messages the connect consumer sent before the upgrade completed, to write first.
    pub(crate) early: Early,
    pub(crate) shutdown: Arc<super::Shutdown>,
    /// Pings and the maximum lifetime (see `clock`), the socket's settings, and the server's limits.
    pub(crate) clock: clock::ClockConfig,
    /// Counts this connection as open until it is dropped, disconnect consumer included.
    pub(crate) tracked: super::TrackerGuard,
}

/// What the connect consumer sent before the upgrade completed: one pointer (none at all, most often)
/// rather than a `Vec`'s three words, as every open connection keeps the field long after it is empty.
#[derive(Default)]
// A boxed `Vec` on purpose: one word where a boxed slice takes two, and early messages are rare.
#[allow(clippy::box_collection)]
pub(crate) struct Early(Option<Box<Vec<LayerMessage>>>);

impl Early {
    fn of(messages: Vec<LayerMessage>) -> Self {
        Early((!messages.is_empty()).then(|| Box::new(messages)))
    }
}

impl IntoIterator for Early {
    type Item = LayerMessage;
    type IntoIter = std::vec::IntoIter<LayerMessage>;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .map(|messages| *messages)
            .unwrap_or_default()
            .into_iter()
    }
}

/// A consumer run in progress: its name, the event it handles, and the run itself.
pub(crate) type Running = (&'static str, &'static str, RunFuture);

enum Incoming {
    Text(Utf8Bytes),
    Binary(bytes::Bytes),
    Event(String, Arc<Map<String, Value>>),
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
    Send(CloseCode, Utf8Bytes),
    /// The peer broke a limit or the protocol: close with this code at once.
    BadInput(CloseCode, &'static str, WsError),
    /// The client is slow (past its budget, or a write timed out): drop what waits, close with 1013.
    Slow(Slow),
}

/// Why a client counts as slow.
#[derive(Debug, Clone, Copy)]
enum Slow {
    OverBudget,
    WriteTimeout,
}

impl Connection {
    /// The connection of `endpoint`, with the server's limits.
    pub(crate) fn new(
        endpoint: Endpoint,
        early: Vec<LayerMessage>,
        shared: &super::Shared,
    ) -> Self {
        let Endpoint {
            scope,
            inbox,
            reply,
            bindings,
            layer,
            tracked,
        } = endpoint;
        Connection {
            scope,
            inbox,
            reply,
            bindings,
            layer,
            early: Early::of(early),
            shutdown: shared.shutdown.clone(),
            clock: clock::ClockConfig::of(&shared.config),
            tracked,
        }
    }

    /// Completes the upgrade, runs the connection to its end, then the disconnect consumer, then leaves the
    /// declared groups. An upgrade that fails (the client reset the connection) still gets its
    /// disconnect, with code 1006.
    ///
    /// `running` is the connect consumer, if it accepted and is still running. The wait for the upgrade
    /// is a combinator in front of the serving future rather than a first step inside it: the state of
    /// an `async` block keeps room for everything it captured (the upgrade, the hyper result it gives)
    /// all its life, and this state is paid for by every open connection.
    pub(crate) fn run(
        self,
        upgrade: hyper::upgrade::OnUpgrade,
        running: Option<Running>,
    ) -> impl Future<Output = ()> + Send + 'static {
        // Boxed until `serve` takes it: captured as it is, it would be stored twice (here and in `serve`'s
        // state), and it is rare (a connect consumer that accepts and keeps running), while the space
        // would be paid by every connection.
        let running = running.map(Box::new);
        upgrade.then(move |upgraded| match self.socket(upgraded) {
            Some(socket) => Either::Left(self.serve_socket(socket, running)),
            None => {
                drop(running);
                // Boxed: it is rare, and its state should not weigh on every open connection.
                Either::Right(Box::pin(self.into_endpoint().finish(1, 1006)))
            }
        })
    }

    /// The WebSocket over the socket hyper upgraded, or `None` (logged) when the upgrade failed.
    fn socket(&self, upgraded: hyper::Result<hyper::upgrade::Upgraded>) -> Option<Socket> {
        let upgraded = match upgraded {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "upgrade failed");
                return None;
            }
        };
        let wire = wire::Wire::new(TokioIo::new(upgraded), self.inbox.queue().clone());
        // `from_raw_socket` is async in name only (it never waits); taking its result at once keeps its
        // state out of the long-lived future.
        let socket =
            WebSocketStream::from_raw_socket(wire, Role::Server, Some(self.clock.websocket()))
                .now_or_never();
        if socket.is_none() {
            tracing::error!("WebSocket set-up did not complete at once; connection dropped");
        }
        socket
    }

    /// Serves `socket` to its end, then runs the disconnect consumer and leaves the groups.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in the body
    fn serve_socket(
        mut self,
        mut socket: Socket,
        running: Option<Box<Running>>,
    ) -> impl Future<Output = ()> + Send + 'static {
        // An `async` block, not an `async fn`: an async fn keeps its arguments twice in its state
        // (rust-lang/rust#62958).
        async move {
            // A consumer still running when the connection closes is cancelled: `serve` drops it on return.
            let mut order: u64 = 1;
            let ended = self
                .serve(&mut socket, running.map(|running| *running), &mut order)
                .await;
            drop(socket);
            // Boxed: it runs once, at the end, and its state should not weigh on every open connection.
            Box::pin(self.into_endpoint().finish(order, ended.code)).await;
        }
    }

    /// Logs the connection's close line (`observe::closed`), which names it.
    pub(super) fn closed(&self, code: u16, reason: &str, by: crate::server::observe::ClosedBy) {
        crate::server::observe::closed(&self.scope, self.inbox.name(), code, reason, by);
    }

    /// The backlog of events (frames read, events sent to the connection) past which reading pauses.
    pub(super) fn max_pending(&self) -> usize {
        self.clock.config().max_pending_events
    }

    /// How long a write may wait on a full socket.
    pub(super) fn write_timeout(&self) -> Duration {
        self.clock.config().write_timeout
    }

    /// How long a closing handshake may take.
    pub(super) fn close_timeout(&self) -> Duration {
        self.clock.config().close_timeout
    }

    fn into_endpoint(self) -> Endpoint {
        Endpoint {
            scope: self.scope,
            inbox: self.inbox,
            reply: self.reply,
            bindings: self.bindings,
            layer: self.layer,
            tracked: self.tracked,
        }
    }

    fn queue_event(&self, payload: Arc<Map<String, Value>>, pending: &mut serve::Pending) {
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
        if pending.len() >= self.max_pending().saturating_mul(4) {
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
            Incoming::Event(kind, _) if self.bindings.events.is_none() => {
                return Some(self.no_events(kind));
            }
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

    /// A typed event for a connection served by function consumers, which take none: Channels 4's
    /// "No handler for message type", a failure in the error mode of the connection's receive (or
    /// connect) consumer.
    fn no_events(&self, event: String) -> Running {
        let consumer = self
            .bindings
            .receive
            .as_ref()
            .or(self.bindings.connect.as_ref());
        let mode = consumer.map_or(ErrorMode::Close, Consumer::error_mode);
        let error = ConsumerError::new(DispatchError::NoEvents { event }).in_mode(mode);
        let run = invoke::RunFuture::ended(Err(invoke::Failure::Error(error)));
        (
            consumer.map_or("(no consumer)", Consumer::name),
            "event",
            run,
        )
    }
}
