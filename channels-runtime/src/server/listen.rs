//! [`Server`]: configure, bind, accept.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{Either, OptionFuture};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::connection::{Connection, Running};
use super::{ServerConfig, ServerError, ServerHandle, Shared, Tracker, Worker, limits, service};
use crate::context;
use crate::layer::{ChannelLayer, InMemoryLayer};
use crate::routing::Routing;

/// A Channels server: one port for HTTP and WebSocket, a route table, a channel layer.
///
/// Each server has its own layer, and its consumers use it: two servers in one process (tests, an embedding
/// application) don't share groups unless they are given the same layer.
#[derive(Debug)]
pub struct Server {
    routing: Routing,
    layer: Arc<dyn ChannelLayer>,
    config: ServerConfig,
    default_layer: bool,
}

impl Server {
    /// A server for `routing`, on a new [`InMemoryLayer`] with default limits.
    pub fn new(routing: Routing) -> Self {
        Server {
            routing,
            layer: Arc::new(InMemoryLayer::new()),
            config: ServerConfig::default(),
            default_layer: false,
        }
    }

    /// Uses `layer` as the channel layer.
    pub fn with_layer(mut self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.layer = layer;
        self
    }

    /// Uses `config` for limits and buffers.
    pub fn with_config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Makes this server's layer the process default when it starts, so that a `Group` or `Channel` with no
    /// bound layer finds it outside consumers too (in a background task, say), as Channels'
    /// `channel_layers["default"]` would. The default is set once per process (see
    /// [`set_default_layer`](crate::set_default_layer)): if one is set already, this logs a warning and
    /// keeps it. Without this call a server never touches the process default; binding the layer
    /// explicitly (`group!("ticks").with_layer(server.layer())`) is the other way.
    ///
    /// ```no_run
    /// use channels_runtime::{routing::Routing, Group, Server};
    /// # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::new(routing).set_as_default_layer().spawn("127.0.0.1:8000").await?;
    /// // A background task, no layer in hand:
    /// Group::new("ticks")?.send_text("tick").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_as_default_layer(mut self) -> Self {
        self.default_layer = true;
        self
    }

    /// The channel layer, for code outside consumers (background tasks, timers) that sends to groups.
    pub fn layer(&self) -> Arc<dyn ChannelLayer> {
        self.layer.clone()
    }

    /// Binds `addr` and starts serving in the background; the handle says where and stops it when dropped.
    pub async fn spawn(self, addr: &str) -> Result<ServerHandle, ServerError> {
        let errors = self.routing.errors();
        if !errors.is_empty() {
            return Err(ServerError::Routing(errors));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        let mut handle = self.start(local_addr);
        handle
            .tasks
            .spawn(accept_loop(listener, handle.shared.clone()));
        Ok(handle)
    }

    /// Starts serving without a listener: connections come from
    /// [`ServerHandle::serve_io`] (`testing`'s in-process transport). Its `local_addr` is `0.0.0.0:0`.
    pub(crate) fn start_in_process(self) -> Result<ServerHandle, ServerError> {
        let errors = self.routing.errors();
        if !errors.is_empty() {
            return Err(ServerError::Routing(errors));
        }
        Ok(self.start(SocketAddr::from(([0, 0, 0, 0], 0))))
    }

    /// Checks the routes and starts serving at `local_addr`, without an accept loop: the listener kinds
    /// of `listener` (Unix socket, std listener, TLS) spawn theirs on the handle.
    pub(super) fn start_listening(
        self,
        local_addr: SocketAddr,
    ) -> Result<ServerHandle, ServerError> {
        let errors = self.routing.errors();
        if !errors.is_empty() {
            return Err(ServerError::Routing(errors));
        }
        Ok(self.start(local_addr))
    }

    /// The running server, its workers and its clock, without the accept loop.
    fn start(self, local_addr: SocketAddr) -> ServerHandle {
        if self.default_layer {
            make_default(&self.layer, "server");
        }
        let runtime = context::register_runtime(tokio::runtime::Handle::current());
        let shared = Arc::new(Shared {
            routing: Arc::new(self.routing),
            layer: self.layer,
            budget: Arc::new(self.config.budget()),
            config: Arc::new(self.config),
            connections: Tracker::default(),
            handshakes: Tracker::default(),
            shutdown: Arc::default(),
        });
        let mut tasks = tokio::task::JoinSet::new();
        if shared.config.run_workers && !shared.routing.custom_channels().is_empty() {
            let worker = Worker::from_parts(shared.routing.clone(), shared.layer.clone());
            tasks.spawn(worker.run());
        }
        tasks.spawn(crate::layer::clock::tick());
        ServerHandle {
            local_addr,
            shared,
            tasks,
            _runtime: runtime,
        }
    }

    /// Serves on `addr` until Ctrl-C or SIGTERM, printing the address it listens on (and, when no
    /// `tracing` subscriber is installed, a line saying that its warnings are not shown); then shuts
    /// down gracefully (see [`ServerHandle::shutdown`]).
    pub async fn run(self, addr: &str) -> Result<(), ServerError> {
        let handle = self.spawn(addr).await?;
        println!("Listening on http://{}/", handle.local_addr());
        if !tracing::dispatcher::has_been_set() {
            eprintln!(
                "channels: no tracing subscriber is installed, so the server's warnings and errors are \
                 not shown; install one, e.g. `tracing_subscriber::fmt::init()` (see the README's quick start)"
            );
        }
        shutdown_signal().await;
        tracing::info!("shutting down");
        handle.shutdown(Duration::from_secs(5)).await;
        Ok(())
    }
}

/// Makes `layer` the process default, as the user asked of a server or worker (`who`).
pub(crate) fn make_default(layer: &Arc<dyn ChannelLayer>, who: &str) {
    if !context::set_default_layer(layer.clone()) {
        tracing::warn!(
            who,
            "set_as_default_layer: the process already has a default layer; it is kept"
        );
    }
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; stop with Ctrl-C");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut errors = AcceptErrors::default();
    // Made once for every connection of this listener (hyper only reads it), not once per connection.
    let builder = limits::http1_builder(&shared.config);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                errors.back_off(error).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        serve_with(
            &builder,
            shared.clone(),
            stream,
            Some(peer),
            Transport::Plain,
        );
    }
}

/// What the accept loop does when `accept` fails: out of file descriptors (EMFILE, ENFILE), of buffers,
/// and the like. The loop neither dies nor spins: it waits 50 ms (connections close meanwhile, and
/// `handshake_timeout` closes the idle ones) and tries again; the connections already open are served
/// all along. At most one line a second is logged, with how many accepts failed since the last one.
#[derive(Debug, Default)]
pub(crate) struct AcceptErrors {
    last_logged: Option<tokio::time::Instant>,
    failed: u64,
}

impl AcceptErrors {
    /// The back-off after `error`.
    pub(crate) async fn back_off(&mut self, error: std::io::Error) {
        self.failed += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            tracing::error!(
                %error,
                failed = self.failed,
                "accept failed (out of file descriptors?); retrying in 50 ms, open connections are still served"
            );
            self.last_logged = Some(now);
            self.failed = 0;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Serves one accepted connection (from `peer`, when it has an address) in a task of its own, under the
/// limits of `limits`: the head within `handshake_timeout` and `max_header_bytes`, handshakes within
/// `max_connections`.
pub(crate) fn serve_connection<IO>(shared: Arc<Shared>, io: IO, peer: Option<SocketAddr>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    serve_connection_over(shared, io, peer, Transport::Plain);
}

/// What carries a connection's bytes: the scope's `scheme` (`wss`/`https` over TLS) follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// TCP or a Unix socket, as they are.
    Plain,
    /// TLS, ended by this server (`spawn_tls`).
    Tls,
}

/// [`serve_connection`], for a connection carried by `transport`.
pub(crate) fn serve_connection_over<IO>(
    shared: Arc<Shared>,
    io: IO,
    peer: Option<SocketAddr>,
    transport: Transport,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    serve_with(
        &limits::http1_builder(&shared.config),
        shared,
        io,
        peer,
        transport,
    );
}

/// [`serve_connection_over`] with hyper's `builder` (`limits::http1_builder` of the server's config),
/// made once by an accept loop: a new one costs an allocation (its timer) per connection.
fn serve_with<IO>(
    builder: &hyper::server::conn::http1::Builder,
    shared: Arc<Shared>,
    io: IO,
    peer: Option<SocketAddr>,
    transport: Transport,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move {
            // Held until the handshake has been answered: see `limits::admit`.
            let _slot = match limits::admit(&shared, &req) {
                Ok(slot) => slot,
                Err(refused) => {
                    return Ok(refused.response().map(|body| {
                        body.map_err(|never| -> limits::BoxError { match never {} })
                            .boxed_unsync()
                    }));
                }
            };
            // A body must keep up `min_body_rate` after `handshake_timeout`.
            service::handle_over(shared, peer, transport, req, limits::Paced::new).await
        }
    });
    // Its span, its access log line, its counts: see `observe`.
    let service = super::observe::Observed::new(peer, service);
    // Boxed: the task's state then holds hyper's connection (gone after the handshake) or the WebSocket
    // connection that follows it (see below), not both side by side, and stays the size of the latter.
    let http = Box::pin(
        builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades(),
    );
    // A WebSocket accepted on this connection runs in this same task once hyper has written the 101 and
    // let go of the socket (see `Accepted`): no second task to spawn, wake and schedule per connection.
    // Combinators rather than an `async` block, whose state would keep room for the accepted connection
    // beside its running future: this way the task is the size of that future, as a task of its own was.
    let task = ACCEPTED
        .scope(RefCell::new(None), async move {
            if let Err(error) = http.await {
                tracing::debug!(%error, ?peer, "HTTP connection ended with an error");
            }
            ACCEPTED.with(RefCell::take)
        })
        .then(|accepted| OptionFuture::from(accepted.map(|accepted| accepted.run())));
    tokio::spawn(task);
}

tokio::task_local! {
    /// Where the handshake leaves the WebSocket it accepted, for the task of the hyper connection it came
    /// on to run (see [`Accepted::start`]).
    // Boxed: the scope swaps the slot in and out of the thread on every poll of hyper's connection.
    static ACCEPTED: RefCell<Option<Box<Accepted>>>;
}

/// A WebSocket the handshake accepted: its connection, to run once the 101 is written.
pub(crate) struct Accepted {
    /// The connection, ready to take over the socket.
    pub(crate) connection: Connection,
    /// The socket, once hyper has written the 101.
    pub(crate) upgrade: OnUpgrade,
    /// The connect consumer, if it accepted and is still running.
    pub(crate) running: Option<Running>,
    /// The handshake's span, when it is on (`observe`): the connection and its consumers run in it.
    pub(crate) span: Option<tracing::Span>,
}

impl Accepted {
    /// Starts the connection. On this server's own connections (the accept loop, the listener kinds,
    /// the in-process transport) it runs in the connection's task, right after hyper is done with the
    /// socket: hyper's connection future ends as soon as it has handed the upgrade over, so the
    /// connection starts just as early as in a task of its own, without the cost of one. Elsewhere (an
    /// axum application's upgrade) it gets a task of its own.
    pub(crate) fn start(self) {
        let mut accepted = Some(Box::new(self));
        let _ = ACCEPTED.try_with(|slot| {
            if let Some(earlier) = slot.replace(accepted.take()) {
                // hyper ends a connection at its upgrade, so there is never a second one; if there
                // were, it would still run.
                tokio::spawn(earlier.run());
            }
        });
        if let Some(accepted) = accepted {
            tokio::spawn(accepted.run());
        }
    }

    /// The connection's whole life: see [`Connection::run`]. Not an `async` block: one would hold the
    /// connection's future twice (captured, and moved into its instrumented form).
    fn run(self: Box<Self>) -> impl Future<Output = ()> + Send + 'static {
        let Accepted {
            connection,
            upgrade,
            running,
            span,
        } = *self;
        let run = connection.run(upgrade, running);
        // The instrumented form boxed: the span is off by default, and its room (a `Span`) would
        // otherwise be paid by every open connection.
        match span {
            Some(span) => Either::Left(Box::pin(tracing::Instrument::instrument(run, span))),
            None => Either::Right(run),
        }
    }
}
