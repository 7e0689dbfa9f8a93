//! Django's `django.core.cache.backends.redis.RedisCache`, read-only: its key function and its values
//! (`RedisSerializer`: pickle), on the first `LOCATION`.

use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::pickle::session_from_pickle;
use crate::django::config::{CacheSettings, redact_url};
use crate::django::error::DjangoError;

/// One connection to the cache's first `LOCATION`, made on first use and made again after an error.
pub(crate) struct RedisCache {
    settings: CacheSettings,
    client: redis::Client,
    timeout: Duration,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("location", &self.location())
            .field("key_prefix", &self.settings.key_prefix)
            .field("version", &self.settings.version)
            .finish()
    }
}

impl RedisCache {
    /// Checks the URL; connects on first use.
    pub(crate) fn new(
        settings: &CacheSettings,
        timeout: Duration,
    ) -> Result<RedisCache, DjangoError> {
        let location = settings.location.first().cloned().unwrap_or_default();
        let client = redis::Client::open(location.as_str()).map_err(|source| {
            DjangoError::BadCacheLocation {
                location: redact_url(&location),
                source,
            }
        })?;
        Ok(RedisCache {
            settings: settings.clone(),
            client,
            timeout,
            connection: Mutex::new(None),
        })
    }

    /// The location as logs and errors show it (no password).
    fn location(&self) -> String {
        redact_url(self.settings.location.first().map_or("", String::as_str))
    }

    fn error(&self, source: redis::RedisError) -> DjangoError {
        if source.is_timeout() {
            DjangoError::Timeout {
                what: "cache",
                after: self.timeout,
            }
        } else {
            DjangoError::Cache {
                location: self.location(),
                source,
            }
        }
    }

    /// The shared connection, and whether it was made just now.
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), DjangoError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok((connection.clone(), false));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.error(e))?;
        *slot = Some(connection.clone());
        Ok((connection, true))
    }

    /// `cache.get(key)` for a session dict: `<prefix>:<version>:<key>`, unpickled. `Ok(None)` when
    /// the key is absent (never set, or expired: Django sets the session's TTL) or holds no dict.
    ///
    /// A connection that Redis dropped (a restart) is made again and the read tried once more; a
    /// timeout is not retried.
    pub(crate) async fn get_session(
        &self,
        key: &str,
    ) -> Result<Option<Map<String, Value>>, DjangoError> {
        let full_key = self.settings.make_key(key);
        loop {
            let (mut connection, fresh) = self.connection().await?;
            let got: Result<Option<Vec<u8>>, _> = redis::cmd("GET")
                .arg(&full_key)
                .query_async(&mut connection)
                .await;
            match got {
                Ok(data) => return Ok(data.as_deref().and_then(session_from_pickle)),
                Err(error) => {
                    // The next call connects afresh.
                    self.connection.lock().await.take();
                    let dropped = error.is_connection_dropped() || error.is_io_error();
                    if fresh || error.is_timeout() || !dropped {
                        return Err(self.error(error));
                    }
                    tracing::debug!(%error, "session cache connection dropped; reconnecting");
                }
            }
        }
    }
}
