//! [`ServerHandle`]: a running server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;
use crate::context::RuntimeRegistration;
use crate::layer::ChannelLayer;

/// A running server. Dropping it stops accepting new connections (open ones carry on until they close;
/// [`shutdown`](Self::shutdown) closes them too).
#[derive(Debug)]
pub struct ServerHandle {
    pub(super) local_addr: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) tasks: tokio::task::JoinSet<()>,
    /// Lets `*_blocking` calls from plain threads run on this server's runtime while it runs.
    pub(super) _runtime: RuntimeRegistration,
}

impl ServerHandle {
    /// Stops accepting connections, closes every open WebSocket with 1001 (going away), and waits up to
    /// `grace` for their disconnect consumers to finish.
    pub async fn shutdown(mut self, grace: Duration) {
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

    /// Serves `io` as one more accepted connection, with no peer address (`testing`'s in-process
    /// transport: one end of an in-memory pipe).
    pub(crate) fn serve_io<IO>(&self, io: IO)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        super::listen::serve_connection(self.shared.clone(), io, None);
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's channel layer: bind it (`Group::with_layer(handle.layer())`) to send from code outside
    /// consumers, such as a background task.
    pub fn layer(&self) -> Arc<dyn ChannelLayer> {
        self.shared.layer.clone()
    }

    /// How many WebSocket connections are open: from the moment a handshake matches the routes (its
    /// connect consumer running included) until its disconnect consumer has finished.
    pub fn connections(&self) -> usize {
        self.shared.connections.count()
    }

    /// What this server did with slow clients since it started: connections closed past their
    /// [`outbound_budget`](crate::ServerConfig::outbound_budget) or their
    /// [`write_timeout`](crate::ServerConfig::write_timeout), and messages dropped under
    /// [`SlowClientPolicy::Drop`](super::SlowClientPolicy::Drop).
    ///
    /// ```no_run
    /// # async fn run(server: channels_runtime::ServerHandle) {
    /// let stats = server.slow_clients();
    /// println!("{} slow clients closed", stats.closed_over_budget + stats.closed_write_timeout);
    /// # }
    /// ```
    pub fn slow_clients(&self) -> SlowClientStats {
        let budget = &self.shared.budget;
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        SlowClientStats {
            closed_over_budget: get(&budget.closed),
            closed_write_timeout: get(&budget.timed_out),
            dropped: get(&budget.dropped),
        }
    }

    /// Waits until at most `n` WebSocket connections are open, including their disconnect consumers.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn wait_for_connections(&self, n: usize) {
        self.shared.connections.wait_for_at_most(n).await;
    }
}

/// Counts of slow clients, from [`ServerHandle::slow_clients`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlowClientStats {
    /// Connections closed (1013) for going past their outbound budget ([`SlowClientPolicy::Close`]).
    ///
    /// [`SlowClientPolicy::Close`]: super::SlowClientPolicy::Close
    pub closed_over_budget: u64,
    /// Connections closed (1013) because the client took nothing for the write timeout.
    pub closed_write_timeout: u64,
    /// Messages dropped for a member past its budget ([`SlowClientPolicy::Drop`]).
    ///
    /// [`SlowClientPolicy::Drop`]: super::SlowClientPolicy::Drop
    pub dropped: u64,
}
