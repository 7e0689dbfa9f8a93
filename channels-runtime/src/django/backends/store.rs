//! The Django engines as [`HttpSessionStore`]s, so `HttpSessionMiddleware` and `message.http_session()`
//! read Django's sessions too.

use serde_json::{Map, Value};

use super::{CacheSessions, CachedDbSessions, DbSessions, DjangoSessions, SignedCookieSessions};
use crate::django::error::{DjangoError, SigningError};
use crate::session::{HttpSessionStore, SessionStoreError};

impl From<DjangoError> for SessionStoreError {
    fn from(error: DjangoError) -> SessionStoreError {
        match error {
            DjangoError::Cache { .. } => {
                SessionStoreError::unavailable("read Django's session cache", error)
            }
            DjangoError::Database(_) | DjangoError::UserTable { .. } => {
                SessionStoreError::unavailable("read Django's session database", error)
            }
            DjangoError::Timeout { what, .. } => {
                SessionStoreError::unavailable(format!("read Django's session {what}"), error)
            }
            other => SessionStoreError::Config {
                reason: other.to_string(),
            },
        }
    }
}

impl From<SigningError> for SessionStoreError {
    fn from(error: SigningError) -> SessionStoreError {
        SessionStoreError::Corrupt {
            reason: error.to_string(),
        }
    }
}

type Loaded = Result<Option<Map<String, Value>>, SessionStoreError>;

#[async_trait::async_trait]
impl HttpSessionStore for SignedCookieSessions {
    async fn load(&self, session_key: &str) -> Loaded {
        Ok(self.load_now(session_key))
    }

    fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
}

#[async_trait::async_trait]
impl HttpSessionStore for CacheSessions {
    async fn load(&self, session_key: &str) -> Loaded {
        Ok(CacheSessions::load(self, session_key).await?)
    }

    fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
}

#[async_trait::async_trait]
impl HttpSessionStore for CachedDbSessions {
    async fn load(&self, session_key: &str) -> Loaded {
        Ok(CachedDbSessions::load(self, session_key).await?)
    }

    fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
}

#[async_trait::async_trait]
impl HttpSessionStore for DbSessions {
    async fn load(&self, session_key: &str) -> Loaded {
        Ok(DbSessions::load(self, session_key).await?)
    }

    fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
}

#[async_trait::async_trait]
impl HttpSessionStore for DjangoSessions {
    async fn load(&self, session_key: &str) -> Loaded {
        Ok(DjangoSessions::load(self, session_key).await?)
    }

    fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
}
