//! [`Server`]: HTTP/1.1 and WebSocket on one port, driven by a route table.
//!
//! ```no_run
//! use channels_runtime::{routing::{Consumer, Route, Routing}, Message, Result, Server};
//!
//! async fn echo(message: Message) -> Result<()> {
//!     match message.text() {
//!         Some(text) => message.reply_channel.send_text(text.to_owned()).await,
//!         None => Ok(()),
//!     }
//! }
//!
//! # async fn run() -> std::result::Result<(), channels_runtime::ServerError> {
//! let routing = Routing::new().route(Route::to("websocket.receive", None, Consumer::from_async("echo", echo)));
//! Server::new(routing).run("127.0.0.1:8000").await
//! # }
//! ```

mod bindings;
mod config;
mod connection;
mod invoke;
mod service;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use config::ServerConfig;
pub use worker::Worker;

use crate::context;
use crate::layer::{ChannelLayer, InMemoryLayer};
use crate::routing::{Routing, RoutingError};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The route table has invalid entries (only possible for tables built by hand; the macros check at
    /// compile time).
    #[error("invalid routing: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Routing(Vec<RoutingError>),
    /// The address could not be bound or read.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// State shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) routing: Arc<Routing>,
    pub(crate) layer: Arc<dyn ChannelLayer>,
    pub(crate) config: ServerConfig,
    pub(crate) connections: Tracker,
    /// Raised when the server shuts down: every connection then closes with 1001 (going away).
    pub(crate) shutdown: Arc<Shutdown>,
}

/// A one-way signal: set once, seen by every connection.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    raised: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl Shutdown {
    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// A future that completes at the next `raise`. Create it, then check [`is_raised`](Self::is_raised):
    /// a raise in between still completes it.
    pub(crate) fn raised(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

/// Counts live WebSocket connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    inner: Arc<(AtomicUsize, Notify)>,
}

#[derive(Debug)]
pub(crate) struct TrackerGuard(Tracker);

impl Tracker {
    pub(crate) fn enter(&self) -> TrackerGuard {
        self.inner.0.fetch_add(1, Ordering::AcqRel);
        TrackerGuard(self.clone())
    }

    fn count(&self) -> usize {
        self.inner.0.load(Ordering::Acquire)
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        self.0.inner.0.fetch_sub(1, Ordering::AcqRel);
        self.0.inner.1.notify_waiters();
    }
}

/// Leaves the declared groups of a connection (used on every way out).
pub(crate) async fn leave_groups(layer: &Arc<dyn ChannelLayer>, channel: &str, groups: &[String]) {
    for group in groups {
        if let Err(error) = layer.group_discard(group, channel).await {
            tracing::warn!(%error, group, "could not leave declared group");
        }
    }
}

/// A Channels server: one port for HTTP and WebSocket, a route table, a channel layer.
#[derive(Debug)]
pub struct Server {
    routing: Routing,
    layer: Arc<dyn ChannelLayer>,
    config: ServerConfig,
}

impl Server {
    /// A server for `routing`, on a new [`InMemoryLayer`] with default limits.
    pub fn new(routing: Routing) -> Self {
        Server {
            routing,
            layer: Arc::new(InMemoryLayer::new()),
            config: ServerConfig::default(),
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
        context::set_default_layer(self.layer.clone());
        context::remember_runtime(tokio::runtime::Handle::current());
        let shared = Arc::new(Shared {
            routing: Arc::new(self.routing),
            layer: self.layer.clone(),
            config: self.config,
            connections: Tracker::default(),
            shutdown: Arc::default(),
        });
        let mut tasks = tokio::task::JoinSet::new();
        if shared.config.run_workers && !shared.routing.custom_channels().is_empty() {
            let worker = Worker::from_parts(shared.routing.clone(), shared.layer.clone());
            tasks.spawn(worker.run());
        }
        tasks.spawn(accept_loop(listener, shared.clone()));
        tasks.spawn(crate::layer::clock::tick());
        Ok(ServerHandle {
            local_addr,
            shared,
            tasks,
        })
    }

    /// Serves on `addr` until Ctrl-C or SIGTERM, printing the address it listens on; then shuts down
    /// gracefully (see [`ServerHandle::shutdown`]).
    pub async fn run(self, addr: &str) -> Result<(), ServerError> {
        let handle = self.spawn(addr).await?;
        println!("Listening on http://{}/", handle.local_addr());
        shutdown_signal().await;
        tracing::info!("shutting down");
        handle.shutdown(std::time::Duration::from_secs(5)).await;
        Ok(())
    }
}

async fn shutdown_signal() {
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
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and similar: log, back off briefly, keep serving the others.
                tracing::error!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| service::handle(shared.clone(), Some(peer), req));
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "HTTP connection ended with an error");
            }
        });
    }
}

/// A running server. Dropping it stops accepting new connections (open ones carry on until they close;
/// [`shutdown`](Self::shutdown) closes them too).
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: tokio::task::JoinSet<()>,
}

impl ServerHandle {
    /// Stops accepting connections, closes every open WebSocket with 1001 (going away), and waits up to
    /// `grace` for their disconnect consumers to finish.
    pub async fn shutdown(mut self, grace: std::time::Duration) {
        self.tasks.abort_all();
        self.shared.shutdown.raise();
        if tokio::time::timeout(grace, self.wait_for_connections(0))
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.connections(),
                "shutdown: connections still open after the grace period"
            );
        }
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's channel layer.
    pub fn layer(&self) -> Arc<dyn ChannelLayer> {
        self.shared.layer.clone()
    }

    /// How many WebSocket connections are open (including their disconnect consumers still running).
    pub fn connections(&self) -> usize {
        self.shared.connections.count()
    }

    /// Waits until at most `n` WebSocket connections are open, including their disconnect consumers.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn wait_for_connections(&self, n: usize) {
        loop {
            let notified = self.shared.connections.inner.1.notified();
            if self.connections() <= n {
                return;
            }
            notified.await;
        }
    }
}
