//! What every connection of one server shares: the route table, the layer, the limits, the connection
//! count and the shutdown signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::ServerConfig;
use crate::layer::ChannelLayer;
use crate::layer::queue::Budget;
use crate::routing::Routing;

/// State shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) routing: Arc<Routing>,
    /// This server's layer: its consumers use it, whatever other servers in the process use.
    pub(crate) layer: Arc<dyn ChannelLayer>,
    /// Shared (not copied) by every connection, which reads its clock and socket settings from it.
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) connections: Tracker,
    /// WebSocket handshakes admitted under `max_connections` and not finished yet (see `limits::admit`).
    pub(crate) handshakes: Tracker,
    /// Raised when the server shuts down: every connection then closes with 1001 (going away).
    pub(crate) shutdown: Arc<Shutdown>,
    /// The byte budget of every WebSocket reply channel, and the slow-client counters.
    pub(crate) budget: Arc<Budget>,
}

/// A one-way signal: set once, seen by every connection.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    raised: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    pub(crate) fn raise(&self) {
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

/// Counts one connection as open for as long as it lives.
#[derive(Debug)]
pub(crate) struct TrackerGuard(Tracker);

impl Tracker {
    pub(crate) fn enter(&self) -> TrackerGuard {
        self.inner.0.fetch_add(1, Ordering::AcqRel);
        crate::metrics::connection_opened();
        TrackerGuard(self.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.inner.0.load(Ordering::Acquire)
    }

    /// A future that completes at the next connection's end. Create it, then check [`count`](Self::count).
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.1.notified()
    }

    /// Waits until at most `n` connections are open. Cancel-safe.
    pub(crate) async fn wait_for_at_most(&self, n: usize) {
        loop {
            let changed = self.changed();
            if self.count() <= n {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        self.0.inner.0.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::connection_closed();
        self.0.inner.1.notify_waiters();
    }
}

/// Leaves the declared groups of a connection (used on every way out).
pub(crate) async fn leave_groups(layer: &Arc<dyn ChannelLayer>, channel: &str, groups: &[String]) {
    for group in groups {
        if let Err(error) = layer.group_discard(group, channel).await {
            crate::metrics::layer_error("group_discard");
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                group,
                "could not leave declared group"
            );
        }
    }
}
