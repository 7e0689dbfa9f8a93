//! Sessions: [`Session`] (Channels' `channel_session`, keyed by reply channel and kept in the channel
//! layer), [`HttpSession`] (Channels' `http_session`, the web session named by the handshake's cookie)
//! and the [`HttpSessionStore`] trait that finds web sessions.
//!
//! # `channel_session`: where it lives
//!
//! A connection's session is stored in the channel layer under the connection's reply channel
//! ([`ChannelLayer::session_save`]), with the layer's
//! [`session_expiry`](crate::layer::LayerConfig::session_expiry) (one day by default). A consumer sees a
//! local copy with a synchronous API: the server loads it before the consumer runs and writes it back to
//! the layer after the consumer returns, if it changed. So a worker consumer serving a custom channel,
//! given a message with a `reply_channel` (in this process or, on Redis, in another), reads and writes
//! that connection's session, and the connection's next consumer sees what the worker set.
//!
//! The connection's own consumers keep the copy in the process between runs (a cache) and write through:
//! before each of them (except `websocket.connect`, whose reply channel is new) the copy is reloaded from
//! the layer, so a worker's write is seen, unless the layer says nobody else can have written it
//! ([`ChannelLayer::session_may_have_changed`]: `RedisLayer` says so until the reply channel's name has
//! left the process in a message, sparing a round trip per consumer run). The session is deleted from the layer when the connection
//! ends, after its disconnect consumer (Channels keeps it until it expires; nothing can use it after the
//! reply channel has gone). Two consumers that change the same session at once: the last write wins, as
//! with Channels' session backends.

mod cookies;
mod http;
pub(crate) mod sync;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::{Map, Value};

use crate::layer::ChannelLayer;

pub(crate) use self::cookies::{parse_cookies, parse_query};
pub use self::http::{
    HttpSession, HttpSessionStore, LayerSessionStore, MemorySessionStore, SessionStoreError,
};

/// A key-value store shared by all consumers of one connection and by the workers that serve it
/// (Channels' `@channel_session`: `message.channel_session["room"] = room`).
///
/// Every message of a connection carries its session, so a value set in the connect consumer is there
/// in the receive and disconnect consumers, and in a worker consumer that gets a message naming the
/// connection's `reply_channel`. See the [module docs](self) for where it is kept. Cloning is cheap and
/// shares the copy.
///
/// ```
/// use channels_runtime::Session;
/// use serde_json::json;
/// let session = Session::default();
/// session.set("room", json!("lobby"));
/// assert_eq!(session.get("room"), Some(json!("lobby")));
/// assert_eq!(session.get_str("room").as_deref(), Some("lobby"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Session {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    values: Mutex<Map<String, Value>>,
    /// Changed since it was last loaded or saved: to be written back. Set and cleared only with `values`
    /// locked, so that it agrees with them; read without the lock by the server after each run (one
    /// load: most runs change nothing).
    changed: AtomicBool,
    /// The session of a WebSocket connection served by this process (its cache), not a worker's copy.
    connection: AtomicBool,
    /// Where [`Session::save`] writes: the reply channel's name and the layer, set when the first run is
    /// planned.
    home: OnceLock<Home>,
}

/// Where a session is written: its reply channel's name, and the layer.
type Home = (Arc<str>, Arc<dyn ChannelLayer>);

impl Session {
    fn lock(&self) -> MutexGuard<'_, Map<String, Value>> {
        // Each critical section is one map operation; a poisoned map is still consistent.
        self.shared.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the copy changed (or written back); the caller holds the lock on the values.
    fn set_changed(&self, changed: bool) {
        self.shared.changed.store(changed, Ordering::Release);
    }

    /// The value under `key`, cloned.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// The string under `key`, if it is one.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.lock()
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Stores `value` under `key`, returning the old value.
    pub fn set(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        let mut values = self.lock();
        self.set_changed(true);
        values.insert(key.into(), value)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut values = self.lock();
        let old = values.remove(key);
        if old.is_some() {
            self.set_changed(true);
        }
        old
    }

    /// Removes every key (Python's `session.flush()` keeps no data either).
    ///
    /// ```
    /// use channels_runtime::Session;
    /// let session = Session::default();
    /// session.set("a", 1.into());
    /// session.clear();
    /// assert!(session.is_empty());
    /// ```
    pub fn clear(&self) {
        let mut values = self.lock();
        if !values.is_empty() {
            self.set_changed(true);
        }
        values.clear();
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    /// The keys, in order.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A copy of the whole session, as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.lock().clone()
    }

    /// Writes the session to the channel layer now, if it changed, instead of when the consumer
    /// returns: for a consumer that sets a value and then hands its reply channel to a worker, which
    /// must see the value (the server writes it back after the consumer returns, which may be after the
    /// worker has loaded it). A session that is no connection's (a unit test's) has nowhere to go: `Ok`.
    ///
    /// ```no_run
    /// use channels_runtime::{Channel, Message, Result};
    /// use serde_json::json;
    /// async fn ws_receive(message: Message) -> Result<()> {
    ///     message.channel_session().set("job", json!("resize"));
    ///     message.channel_session().save().await?;
    ///     let reply = message.reply_channel.name().unwrap_or_default().to_owned();
    ///     Channel::new("jobs")?.send(json!({"reply_channel": reply})).await
    /// }
    /// ```
    pub async fn save(&self) -> crate::Result<()> {
        let Some(((key, layer), changes)) = self.home_and_changes() else {
            return Ok(());
        };
        layer.session_save(&key, &changes).await?;
        self.saved(&changes);
        Ok(())
    }

    /// Before a run on this session: sets where [`save`](Self::save) writes (the first time; it never
    /// changes), and says whether it is a WebSocket connection's (see [`sync`]). No lock.
    pub(crate) fn prepare(&self, key: &Arc<str>, layer: &Arc<dyn ChannelLayer>) -> bool {
        self.shared
            .home
            .get_or_init(|| (key.clone(), layer.clone()));
        self.is_connection()
    }

    /// The session of a WebSocket connection (its in-process cache): see [`sync`].
    pub(crate) fn mark_connection(&self) {
        self.shared.connection.store(true, Ordering::Release);
    }

    pub(crate) fn is_connection(&self) -> bool {
        self.shared.connection.load(Ordering::Acquire)
    }

    /// Whether the copy changed since it was last loaded or saved. No lock.
    pub(crate) fn is_changed(&self) -> bool {
        self.shared.changed.load(Ordering::Acquire)
    }

    /// Where the copy is written, and what to write, if it changed since it was loaded or saved.
    pub(crate) fn home_and_changes(&self) -> Option<(Home, Map<String, Value>)> {
        let home = self.shared.home.get()?;
        let changes = self.changes()?;
        Some((home.clone(), changes))
    }

    /// Replaces the copy with what the layer holds (`None`: nothing, or it expired), unless it has
    /// changes not yet written back (a save that failed: they are written at the next save).
    pub(crate) fn replace_unless_changed(&self, loaded: Option<Map<String, Value>>) {
        let mut values = self.lock();
        if self.is_changed() {
            return;
        }
        *values = loaded.unwrap_or_default();
    }

    /// What to write back, if the copy changed since it was loaded or saved.
    pub(crate) fn changes(&self) -> Option<Map<String, Value>> {
        let values = self.lock();
        self.is_changed().then(|| values.clone())
    }

    /// The copy was written back: `saved` is what was written (a change made meanwhile stays to write).
    pub(crate) fn saved(&self, saved: &Map<String, Value>) {
        let values = self.lock();
        if &*values == saved {
            self.set_changed(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn only_changes_are_written_back() {
        let session = Session::default();
        assert_eq!(session.changes(), None);
        session.replace_unless_changed(Some(map(json!({"a": 1}))));
        assert_eq!(session.changes(), None, "a load is no change");
        assert_eq!(session.remove("missing"), None);
        assert_eq!(session.changes(), None, "removing nothing is no change");
        session.set("b", json!(2));
        let changes = session.changes().expect("a change");
        assert_eq!(changes, map(json!({"a": 1, "b": 2})));
        session.saved(&changes);
        assert_eq!(session.changes(), None);
    }

    #[test]
    fn a_change_not_written_back_survives_a_reload() {
        let session = Session::default();
        session.set("mine", json!(true));
        // The save failed: the next reload must not drop the change.
        session.replace_unless_changed(Some(map(json!({"theirs": true}))));
        assert_eq!(session.to_map(), map(json!({"mine": true})));
        // A change made while a save was in flight stays to be written.
        let first = session.changes().expect("a change");
        session.set("later", json!(1));
        session.saved(&first);
        assert!(session.changes().is_some());
    }

    #[test]
    fn a_reload_replaces_an_unchanged_copy_and_expiry_empties_it() {
        let session = Session::default();
        session.replace_unless_changed(Some(map(json!({"room": "lobby"}))));
        assert_eq!(session.get_str("room").as_deref(), Some("lobby"));
        session.replace_unless_changed(None);
        assert!(session.is_empty());
    }

    #[tokio::test]
    async fn save_writes_now_where_the_server_said() {
        let layer: Arc<dyn ChannelLayer> = Arc::new(crate::layer::InMemoryLayer::new());
        let session = Session::default();
        session.set("k", json!("v"));
        // Nowhere to go yet: a no-op.
        session.save().await.expect("ok");
        let key: Arc<str> = Arc::from("specific.test!1");
        assert!(
            !session.prepare(&key, &layer),
            "a worker's copy, not a connection's"
        );
        session.save().await.expect("saved");
        assert_eq!(
            layer.session_load(&key).await.expect("loads"),
            Some(map(json!({"k": "v"})))
        );
        assert_eq!(session.changes(), None);
    }
}
