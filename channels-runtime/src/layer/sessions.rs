//! [`SessionTable`]: channel sessions kept in this process's memory, with expiry (the in-memory layer's,
//! and the fallback of layers that keep none).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::local::lock;

/// Channel sessions by reply channel name, each until it expires (`expiry` after it was last saved).
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    sessions: Mutex<Table>,
    /// Whether a non-empty session was ever stored: until then no channel has one to load, and a
    /// connection's own copy (empty) is current without a lookup.
    stored: AtomicBool,
}

#[derive(Debug, Default)]
struct Table {
    map: HashMap<String, (Map<String, Value>, Instant)>,
    /// Sweep expired sessions when the map reaches this size (doubling: amortised).
    sweep_at: usize,
}

impl SessionTable {
    /// The session of `channel`, if it has one that has not expired.
    ///
    /// Runs before every consumer of a connection whose session may have been written elsewhere: most
    /// connections have none, and they pay a lookup, not a clock read.
    pub(crate) fn load(&self, channel: &str) -> Option<Map<String, Value>> {
        let mut table = lock(&self.sessions);
        let (data, expires) = table.map.get(channel)?;
        if *expires > Instant::now() {
            return Some(data.clone());
        }
        table.map.remove(channel);
        None
    }

    /// Stores the session of `channel` for `expiry`; an empty one is deleted.
    pub(crate) fn save(&self, channel: &str, data: &Map<String, Value>, expiry: Duration) {
        let now = Instant::now();
        let mut table = lock(&self.sessions);
        if data.is_empty() {
            table.map.remove(channel);
            return;
        }
        if table.map.len() >= table.sweep_at {
            table.map.retain(|_, (_, expires)| *expires > now);
            table.sweep_at = (table.map.len() * 2).max(64);
        }
        table
            .map
            .insert(channel.to_owned(), (data.clone(), now + expiry));
        // Under the lock, before anyone can load what was just inserted.
        self.stored.store(true, Ordering::Release);
    }

    /// Whether any channel may have a session here: `false` until the first non-empty save. A
    /// connection's copy of its session can only differ from the table's after someone saved one.
    pub(crate) fn may_hold_any(&self) -> bool {
        self.stored.load(Ordering::Acquire)
    }

    /// Deletes the session of `channel`.
    pub(crate) fn delete(&self, channel: &str) {
        lock(&self.sessions).map.remove(channel);
    }
}

/// The table of layers that keep no sessions themselves (the trait's default methods): sessions live in
/// this process only, and the first use says so in the log.
pub(crate) fn fallback(layer: &'static str) -> &'static SessionTable {
    static TABLE: OnceLock<SessionTable> = OnceLock::new();
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            layer,
            "this channel layer keeps no channel sessions (it does not implement session_load, \
             session_save and session_delete): they are kept in this process's memory, so a worker in \
             another process does not see them"
        );
    }
    TABLE.get_or_init(SessionTable::default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Map<String, Value> {
        json!({"room": "lobby"}).as_object().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_their_last_save() {
        let table = SessionTable::default();
        table.save("specific.a!1", &data(), Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(6)).await;
        table.save("specific.a!1", &data(), Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(table.load("specific.a!1"), Some(data()));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(table.load("specific.a!1"), None);
    }

    #[test]
    fn a_table_that_never_held_a_session_says_so() {
        let table = SessionTable::default();
        table.save("c", &Map::new(), Duration::from_secs(10));
        table.delete("c");
        assert!(!table.may_hold_any());
        table.save("c", &data(), Duration::from_secs(10));
        assert!(table.may_hold_any());
        table.delete("c");
        assert!(table.may_hold_any(), "stays set: cheap and always right");
    }

    #[test]
    fn empty_save_deletes() {
        let table = SessionTable::default();
        table.save("c", &data(), Duration::from_secs(10));
        table.save("c", &Map::new(), Duration::from_secs(10));
        assert_eq!(table.load("c"), None);
    }
}
