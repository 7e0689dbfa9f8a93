//! What the layer counts: [`RedisStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of a [`RedisLayer`](super::RedisLayer) since it was made: what it could not deliver and
/// why, and how its connections fared. Each event is also logged when it happens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Operations (`send`, `group_send`, `group_add`, `group_discard`) that failed with
    /// `LayerError::Unavailable`: Redis could not be reached, or did not answer, within `send_timeout`.
    /// Nothing was done for them; the caller was told.
    pub failed_operations: u64,
    /// Connections re-established after one was lost.
    pub reconnects: u64,
    /// Reconnections that found a different Redis server (restarted or failed over): whatever it held
    /// that the old one had not replicated (queued messages, memberships) was lost then. The layer
    /// restores the memberships this process made.
    pub restarts: u64,
    /// Memberships re-added after a restart.
    pub memberships_restored: u64,
    /// Group messages some member did not get because its channel (or its process's shared key) was
    /// full: Channels' at-most-once rule for `group_send`.
    pub dropped: u64,
    /// Messages read past their expiry, never delivered.
    pub expired: u64,
    /// Messages for process-local channels of this process that had already closed.
    pub undeliverable: u64,
    /// Messages no key of [`RedisConfig::symmetric_encryption_keys`](super::RedisConfig::symmetric_encryption_keys)
    /// could decrypt (another fleet's key, tampered, or unencrypted), dropped.
    pub undecryptable: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    failed_operations: AtomicU64,
    reconnects: AtomicU64,
    restarts: AtomicU64,
    memberships_restored: AtomicU64,
    dropped: AtomicU64,
    expired: AtomicU64,
    undeliverable: AtomicU64,
    undecryptable: AtomicU64,
}

impl Counters {
    pub(super) fn failed(&self) {
        self.failed_operations.fetch_add(1, Ordering::Relaxed);
        crate::metrics::layer_error("redis");
    }

    pub(super) fn reconnected(&self, restarted: bool) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        if restarted {
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn restored(&self, n: u64) {
        self.memberships_restored.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        crate::metrics::layer_dropped(crate::metrics::Layer::Redis, n);
    }

    pub(super) fn expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn undeliverable(&self) {
        self.undeliverable.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn undecryptable(&self) {
        self.undecryptable.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dropped_count(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(super) fn snapshot(&self) -> RedisStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RedisStats {
            failed_operations: get(&self.failed_operations),
            reconnects: get(&self.reconnects),
            restarts: get(&self.restarts),
            memberships_restored: get(&self.memberships_restored),
            dropped: get(&self.dropped),
            expired: get(&self.expired),
            undeliverable: get(&self.undeliverable),
            undecryptable: get(&self.undecryptable),
        }
    }
}
