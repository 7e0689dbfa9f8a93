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

/// The stores that read Redis or PostgreSQL: their own `load`, with its error as a `SessionStoreError`.
macro_rules! async_store {
    ($($store:ty),+) => {$(
        #[async_trait::async_trait]
        impl HttpSessionStore for $store {
            async fn load(&self, session_key: &str) -> Loaded {
                Ok(<$store>::load(self, session_key).await?)
            }

            fn cookie_name(&self) -> &str {
                &self.cookie_name
            }
        }
    )+};
}

async_store!(CacheSessions, CachedDbSessions, DbSessions, DjangoSessions);
