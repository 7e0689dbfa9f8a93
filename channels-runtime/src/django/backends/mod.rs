//! Django's session engines, read-only: each finds the session a cookie names, as Django's
//! `SessionStore.load` would, and says `None` when Django would start an empty session.

mod cache;
mod cached_db;
pub(crate) mod database;
mod db;
mod pickle;
mod redis_cache;
mod signed_cookies;
mod store;

use std::sync::Arc;

pub use cache::CacheSessions;
pub use cached_db::CachedDbSessions;
pub use db::DbSessions;
pub use signed_cookies::SignedCookieSessions;

use super::config::{DjangoSettings, SessionEngine};
use super::error::DjangoError;
use database::Database;

/// Django's `_validate_session_key`: a key shorter than 8 characters is no key (and no key Django
/// makes is longer than `django_session.session_key`'s 40).
fn valid_key(session_key: &str) -> bool {
    (8..=40).contains(&session_key.len())
}

/// A session's data: Django's session dict as JSON.
pub type SessionData = serde_json::Map<String, serde_json::Value>;

/// The store `SESSION_ENGINE` names, on the settings' cache and database, read by the cookie
/// `SESSION_COOKIE_NAME`.
///
/// ```
/// use channels_runtime::django::{DjangoSessions, DjangoSettings, SessionEngine};
/// use channels_runtime::session::HttpSessionStore;
/// let settings = DjangoSettings {
///     secret_key: "k".into(),
///     session_engine: SessionEngine::SignedCookies,
///     ..Default::default()
/// };
/// let sessions = DjangoSessions::new(&settings).unwrap();
/// assert_eq!(sessions.engine(), SessionEngine::SignedCookies);
/// assert_eq!(sessions.cookie_name(), "sessionid");
/// ```
#[derive(Debug, Clone)]
pub struct DjangoSessions {
    store: Store,
    cookie_name: String,
}

#[derive(Debug, Clone)]
enum Store {
    SignedCookies(SignedCookieSessions),
    Cache(CacheSessions),
    CachedDb(CachedDbSessions),
    Db(DbSessions),
}

impl DjangoSessions {
    /// The store for `settings.session_engine`; an error when what it needs isn't configured. Connects
    /// on first use, so a backend that is down now is not an error here.
    pub fn new(settings: &DjangoSettings) -> Result<DjangoSessions, DjangoError> {
        settings.validate()?;
        let store = match settings.session_engine {
            SessionEngine::SignedCookies => {
                Store::SignedCookies(SignedCookieSessions::new(settings))
            }
            SessionEngine::Cache => Store::Cache(CacheSessions::new(settings)?),
            SessionEngine::CachedDb => Store::CachedDb(CachedDbSessions::new(settings)?),
            SessionEngine::Db => Store::Db(DbSessions::new(settings)?),
        };
        Ok(DjangoSessions {
            store,
            cookie_name: settings.session_cookie_name.clone(),
        })
    }

    /// Which engine this is.
    pub fn engine(&self) -> SessionEngine {
        match self.store {
            Store::SignedCookies(_) => SessionEngine::SignedCookies,
            Store::Cache(_) => SessionEngine::Cache,
            Store::CachedDb(_) => SessionEngine::CachedDb,
            Store::Db(_) => SessionEngine::Db,
        }
    }

    /// The database connection the engine already has (`db`, `cached_db`), to share with the user check.
    pub(crate) fn database(&self) -> Option<Arc<Database>> {
        match &self.store {
            Store::Db(db) => Some(db.database.clone()),
            Store::CachedDb(cached) => Some(cached.db().database.clone()),
            _ => None,
        }
    }

    /// The session the cookie value `session_key` names: `Ok(None)` when there is none, it expired, or
    /// it was tampered with; `Err` only when the backend can't answer.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only reads.
    pub async fn load(&self, session_key: &str) -> Result<Option<SessionData>, DjangoError> {
        match &self.store {
            Store::SignedCookies(store) => Ok(store.load_now(session_key)),
            Store::Cache(store) => store.load(session_key).await,
            Store::CachedDb(store) => store.load(session_key).await,
            Store::Db(store) => store.load(session_key).await,
        }
    }
}
