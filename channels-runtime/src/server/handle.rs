//! [`ServerHandle`]: a running server.

use std::net::SocketAddr;
use std::sync::Arc;
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

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's channel layer: bind it (`Group::with_layer(handle.layer())`) to send from code outside
    /// consumers, such as a background task.
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
            let changed = self.shared.connections.changed();
            if self.connections() <= n {
                return;
            }
            changed.await;
        }
    }
}
