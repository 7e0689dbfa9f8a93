//! Web sessions (Channels' `http_session`): [`HttpSessionStore`] finds them, [`HttpSession`] is what a
//! consumer reads, [`MemorySessionStore`] and [`LayerSessionStore`] are stores for an app written in Rust
//! only.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::layer::local::lock;

/// Where web sessions live, read by the session cookie's value (Django's `SESSION_ENGINE`).
///
/// [`HttpSessionMiddleware`](crate::auth::HttpSessionMiddleware) asks the store for the session named
/// by the handshake's cookie and puts it on the scope, where consumers read it with
/// `message.http_session()`. [`MemorySessionStore`] (one process) and [`LayerSessionStore`] (the channel
/// layer's, so on Redis every process's) are stores of this crate; Django's backends (signed cookies,
/// cache, database) are in `channels_runtime::django` (feature `django`).
///
/// ```
/// use channels_runtime::session::{HttpSessionStore, SessionStoreError};
/// use serde_json::{Map, Value};
///
/// /// Every key names the same session: a test double.
/// #[derive(Debug)]
/// struct Fixed(Map<String, Value>);
///
/// #[async_trait::async_trait]
/// impl HttpSessionStore for Fixed {
///     async fn load(&self, _key: &str) -> Result<Option<Map<String, Value>>, SessionStoreError> {
///         Ok(Some(self.0.clone()))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait HttpSessionStore: Send + Sync + std::fmt::Debug + 'static {
    /// The session's data, or `Ok(None)` when there is no such session, it expired, or it was tampered
    /// with.
    async fn load(
        &self,
        session_key: &str,
    ) -> Result<Option<Map<String, Value>>, SessionStoreError>;

    /// The cookie that carries the session key. Django: `sessionid`.
    fn cookie_name(&self) -> &str {
        "sessionid"
    }
}

/// Why a store could not answer (never "no such session": that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionStoreError {
    /// The store's backend (a cache, a database) can't be reached or failed.
    #[error("session store unavailable: {what}")]
    Unavailable {
        /// What the store was doing.
        what: String,
        /// The backend's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The stored data could not be read (a format this store does not know).
    #[error("session data unreadable: {reason}")]
    Corrupt {
        /// What was wrong with it.
        reason: String,
    },
    /// The store is configured wrongly (a missing secret key, a bad URL).
    #[error("session store misconfigured: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
}

impl SessionStoreError {
    /// A [`SessionStoreError::Unavailable`]: the backend failed while the store was doing `what`.
    ///
    /// ```
    /// use channels_runtime::session::SessionStoreError;
    /// let error = SessionStoreError::unavailable("read the cache", std::io::Error::other("refused"));
    /// assert_eq!(error.to_string(), "session store unavailable: read the cache");
    /// ```
    pub fn unavailable(
        what: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        SessionStoreError::Unavailable {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// A web session found by the handshake's session cookie (Channels' `scope["session"]`), read-only.
///
/// ```
/// use channels_runtime::session::HttpSession;
/// use serde_json::json;
/// let session = HttpSession::new("k1", json!({"_auth_user_id": "7"}).as_object().unwrap().clone());
/// assert_eq!(session.key(), "k1");
/// assert_eq!(session.get_str("_auth_user_id"), Some("7"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSession {
    key: String,
    data: Map<String, Value>,
}

impl HttpSession {
    /// The session named `key` holding `data`.
    pub fn new(key: impl Into<String>, data: Map<String, Value>) -> Self {
        HttpSession {
            key: key.into(),
            data,
        }
    }

    /// The session key (the cookie's value).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// The string under `key`, if it is one.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    /// The whole session.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.data
    }
}

/// Web sessions in this process's memory, each for `max_age`: a store for an app written in Rust only
/// (its login view [`create`](Self::create)s the session and sets the cookie), and for tests.
///
/// Cloning is cheap and shares the sessions.
///
/// ```
/// use channels_runtime::session::{HttpSessionStore, MemorySessionStore};
/// use serde_json::json;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemorySessionStore::default();
/// let key = store.create(json!({"user": "alice"}).as_object().unwrap().clone());
/// let session = store.load(&key).await.unwrap().unwrap();
/// assert_eq!(session["user"], "alice");
/// store.remove(&key);
/// assert_eq!(store.load(&key).await.unwrap(), None);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemorySessionStore {
    inner: Arc<MemoryInner>,
}

#[derive(Debug)]
struct MemoryInner {
    cookie_name: String,
    max_age: Duration,
    sessions: Mutex<HashMap<String, Stored>>,
}

/// A session's data and when it expires.
type Stored = (Map<String, Value>, Instant);

impl Default for MemorySessionStore {
    /// Django's defaults: cookie `sessionid`, two weeks (`SESSION_COOKIE_AGE`).
    fn default() -> Self {
        MemorySessionStore::new("sessionid", Duration::from_secs(14 * 24 * 3600))
    }
}

impl MemorySessionStore {
    /// A store read by the cookie `cookie_name`, whose sessions last `max_age` from when they are set.
    pub fn new(cookie_name: impl Into<String>, max_age: Duration) -> Self {
        MemorySessionStore {
            inner: Arc::new(MemoryInner {
                cookie_name: cookie_name.into(),
                max_age,
                sessions: Mutex::default(),
            }),
        }
    }

    /// Stores a new session and returns its key (128 random bits, hex): the value of the cookie to set.
    pub fn create(&self, data: Map<String, Value>) -> String {
        let key = format!("{:032x}", rand::random::<u128>());
        self.insert(key.clone(), data);
        key
    }

    /// Stores (or replaces) the session `key`, from now for `max_age`.
    pub fn insert(&self, key: impl Into<String>, data: Map<String, Value>) {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        // Expired sessions are swept as the map doubles: amortised, never a scan per insert.
        if sessions.len().is_power_of_two() {
            sessions.retain(|_, (_, expires)| *expires > now);
        }
        sessions.insert(key.into(), (data, now + self.inner.max_age));
    }

    /// Removes the session `key` (a logout).
    pub fn remove(&self, key: &str) {
        lock(&self.inner.sessions).remove(key);
    }
}

#[async_trait::async_trait]
impl HttpSessionStore for MemorySessionStore {
    async fn load(
        &self,
        session_key: &str,
    ) -> Result<Option<Map<String, Value>>, SessionStoreError> {
        let now = Instant::now();
        let sessions = lock(&self.inner.sessions);
        Ok(sessions
            .get(session_key)
            .filter(|(_, expires)| *expires > now)
            .map(|(data, _)| data.clone()))
    }

    fn cookie_name(&self) -> &str {
        &self.inner.cookie_name
    }
}

/// Web sessions kept in the channel layer (a process-spanning one, Redis, shares them between the
/// processes of a Rust-only app), each for the layer's
/// [`session_expiry`](crate::layer::LayerConfig::session_expiry) from when it was last stored.
///
/// A session `key` is stored as the layer's channel session of the name `http.session.<key>` (so keys
/// are what a channel name may hold: letters, digits, `-`, `_`, `.`; [`create`](Self::create) makes
/// such keys). A key that isn't is no session.
///
/// ```
/// use std::sync::Arc;
/// use channels_runtime::layer::{ChannelLayer, InMemoryLayer};
/// use channels_runtime::session::{HttpSessionStore, LayerSessionStore};
/// use serde_json::json;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> channels_runtime::Result<()> {
/// let layer: Arc<dyn ChannelLayer> = Arc::new(InMemoryLayer::new());
/// let store = LayerSessionStore::new(layer);
/// let key = store.create(json!({"user": "alice"}).as_object().unwrap().clone()).await?;
/// assert_eq!(store.load(&key).await.unwrap().unwrap()["user"], "alice");
/// assert_eq!(store.load("no such key").await.unwrap(), None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LayerSessionStore {
    layer: Arc<dyn crate::layer::ChannelLayer>,
    cookie_name: String,
}

impl LayerSessionStore {
    /// What goes before a session key in the layer's name for it.
    const PREFIX: &'static str = "http.session.";

    /// A store on `layer`, read by the cookie `sessionid`.
    pub fn new(layer: Arc<dyn crate::layer::ChannelLayer>) -> Self {
        LayerSessionStore {
            layer,
            cookie_name: "sessionid".to_owned(),
        }
    }

    /// Reads the session key from the cookie `name` instead.
    #[must_use]
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    fn name_of(key: &str) -> Option<String> {
        let name = format!("{}{key}", Self::PREFIX);
        crate::layer::check_channel_name(&name).ok().map(|()| name)
    }

    /// Stores a new session and returns its key (128 random bits, hex): the value of the cookie to set.
    pub async fn create(&self, data: Map<String, Value>) -> crate::Result<String> {
        let key = format!("{:032x}", rand::random::<u128>());
        self.insert(&key, &data).await?;
        Ok(key)
    }

    /// Stores (or replaces) the session `key`; an empty `data` removes it.
    pub async fn insert(&self, key: &str, data: &Map<String, Value>) -> crate::Result<()> {
        let name = format!("{}{key}", Self::PREFIX);
        Ok(self.layer.session_save(&name, data).await?)
    }

    /// Removes the session `key` (a logout).
    pub async fn remove(&self, key: &str) -> crate::Result<()> {
        let name = format!("{}{key}", Self::PREFIX);
        Ok(self.layer.session_delete(&name).await?)
    }
}

#[async_trait::async_trait]
impl HttpSessionStore for LayerSessionStore {
    async fn load(
        &self,
        session_key: &str,
    ) -> Result<Option<Map<String, Value>>, SessionStoreError> {
        let Some(name) = Self::name_of(session_key) else {
            return Ok(None);
        };
        self.layer.session_load(&name).await.map_err(|error| {
            SessionStoreError::unavailable("load a web session from the layer", error)
        })
    }

    fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn memory_sessions_expire() {
        let store = MemorySessionStore::new("sid", Duration::from_secs(10));
        let key = store.create(json!({"a": 1}).as_object().unwrap().clone());
        assert!(store.load(&key).await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(store.load(&key).await.unwrap(), None);
        assert_eq!(store.cookie_name(), "sid");
    }
}
