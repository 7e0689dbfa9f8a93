//! `django.contrib.sessions.backends.cached_db`: the cache under
//! `<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cached_db<session_key>`, then `django_session`.

use std::sync::Arc;

use super::SessionData;
use super::db::DbSessions;
use super::redis_cache::RedisCache;
use crate::django::config::DjangoSettings;
use crate::django::error::DjangoError;

/// The cache key prefix of Django's cached_db `SessionStore`.
pub const KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// Sessions in the cache, backed by the database.
#[derive(Debug, Clone)]
pub struct CachedDbSessions {
    cache: Arc<RedisCache>,
    db: DbSessions,
    pub(super) cookie_name: String,
}

impl CachedDbSessions {
    /// On `CACHES`'s first `LOCATION` and `DATABASES`. Connects on first use.
    pub fn new(settings: &DjangoSettings) -> Result<CachedDbSessions, DjangoError> {
        let engine = "django.contrib.sessions.backends.cached_db";
        let caches = settings
            .caches
            .as_ref()
            .ok_or(DjangoError::MissingCache { engine })?;
        let db = DbSessions::new(settings).map_err(|_| DjangoError::MissingDatabase { engine })?;
        Ok(CachedDbSessions {
            cache: Arc::new(RedisCache::new(caches, settings.backend_timeout)?),
            db,
            cookie_name: settings.session_cookie_name.clone(),
        })
    }

    pub(crate) fn db(&self) -> &DbSessions {
        &self.db
    }

    /// The session with this key: from the cache, else from the database (as Django's `load`, which
    /// also reads the database when the cache raises; unlike Django, the cache is not refilled).
    pub async fn load(&self, session_key: &str) -> Result<Option<SessionData>, DjangoError> {
        if !super::valid_key(session_key) {
            return Ok(None);
        }
        match self
            .cache
            .get_session(&format!("{KEY_PREFIX}{session_key}"))
            .await
        {
            Ok(Some(session)) => return Ok(Some(session)),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %crate::django::error::Chain(&error), "session cache unavailable; reading the database");
            }
        }
        self.db.load(session_key).await
    }
}
