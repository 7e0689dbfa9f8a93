//! `django.contrib.sessions.backends.cache`: the session dict, pickled, under
//! `<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cache<session_key>`, with the session's age as TTL.

use std::sync::Arc;

use super::SessionData;
use super::redis_cache::RedisCache;
use crate::django::config::DjangoSettings;
use crate::django::error::DjangoError;

/// The cache key prefix of Django's cache `SessionStore`.
pub const KEY_PREFIX: &str = "django.contrib.sessions.cache";

/// Sessions only in the cache (`CACHES`, a `RedisCache`).
#[derive(Debug, Clone)]
pub struct CacheSessions {
    cache: Arc<RedisCache>,
    pub(super) cookie_name: String,
}

impl CacheSessions {
    /// On `CACHES`'s first `LOCATION`. Connects on first use.
    pub fn new(settings: &DjangoSettings) -> Result<CacheSessions, DjangoError> {
        let caches = settings.caches.as_ref().ok_or(DjangoError::MissingCache {
            engine: "django.contrib.sessions.backends.cache",
        })?;
        Ok(CacheSessions {
            cache: Arc::new(RedisCache::new(caches, settings.backend_timeout)?),
            cookie_name: settings.session_cookie_name.clone(),
        })
    }

    /// The session with this key: `Ok(None)` when the cache has none (it expired: Redis dropped it).
    pub async fn load(&self, session_key: &str) -> Result<Option<SessionData>, DjangoError> {
        if !super::valid_key(session_key) {
            return Ok(None);
        }
        self.cache
            .get_session(&format!("{KEY_PREFIX}{session_key}"))
            .await
    }
}
