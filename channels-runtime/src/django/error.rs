//! What can go wrong reading Django's sessions: [`SigningError`] for a value that isn't what Django signed
//! (the peer gets an anonymous user), [`DjangoError`] for a configuration or a backend that fails (the
//! caller decides; see [`BackendDown`](super::BackendDown)).

use std::time::Duration;

/// Why `django.core.signing` refused a value: Django's `BadSignature` and `SignatureExpired`, and the
/// decoding errors its `loads` raises after a good signature. Each means "no session" to the session
/// backends, never an error page.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// No `:` separator, or no timestamp: not a value Django signed.
    #[error("not a signed value: {0}")]
    Malformed(&'static str),
    /// The signature matches neither `SECRET_KEY` nor any of `SECRET_KEY_FALLBACKS` (tampered with, or
    /// signed with another key or salt).
    #[error("signature does not match")]
    BadSignature,
    /// Signed longer ago than `max_age` (Django's `SignatureExpired`).
    #[error("signature age {age_secs:.0} s > {max_age:?}")]
    Expired {
        /// Seconds since the value was signed.
        age_secs: f64,
        /// The limit it exceeded (`SESSION_COOKIE_AGE` for signed cookies).
        max_age: Duration,
    },
    /// The payload is not url-safe base64.
    #[error("payload is not url-safe base64")]
    Base64(#[source] base64::DecodeError),
    /// The payload (marked compressed by a leading `.`) is not a zlib stream, or inflates past the limit.
    #[error("payload does not inflate")]
    Zlib(#[source] std::io::Error),
    /// The payload is not JSON (Django's `JSONSerializer`).
    #[error("payload is not JSON")]
    Json(#[source] serde_json::Error),
}

/// A Django session backend that can't answer, or settings that can't work. "No such session" is never
/// an error: it is `Ok(None)` / [`DjangoUser::Anonymous`](super::DjangoUser::Anonymous).
#[derive(Debug, thiserror::Error)]
pub enum DjangoError {
    /// `SESSION_ENGINE` is not one of Django's four backends this module reads.
    #[error(
        "SESSION_ENGINE {0:?} is not supported (signed_cookies, cache, cached_db and db are; \
         file sessions are not shared between machines)"
    )]
    UnknownEngine(String),
    /// The engine keeps sessions in a cache but `CACHES` has no Redis location.
    #[error(
        "SESSION_ENGINE {engine} needs CACHES (a django.core.cache.backends.redis.RedisCache LOCATION)"
    )]
    MissingCache {
        /// The engine's dotted path.
        engine: &'static str,
    },
    /// The engine keeps sessions in the database but `DATABASES` is not set.
    #[error("SESSION_ENGINE {engine} needs DATABASES (the PostgreSQL database of django_session)")]
    MissingDatabase {
        /// The engine's dotted path.
        engine: &'static str,
    },
    /// `SECRET_KEY` is empty (Django refuses to start then too).
    #[error("SECRET_KEY must not be empty")]
    EmptySecretKey,
    /// A `CACHES` `LOCATION` is not a Redis URL.
    #[error("CACHES LOCATION {location:?} is not a redis:// URL")]
    BadCacheLocation {
        /// The location as configured (its password hidden).
        location: String,
        /// What the Redis client said.
        #[source]
        source: redis::RedisError,
    },
    /// The `DATABASES` URL does not parse.
    #[error("DATABASES is not a PostgreSQL connection string")]
    BadDatabaseUrl(#[source] tokio_postgres::Error),
    /// The session cache (Redis) refused or dropped the connection, or answered with an error.
    #[error("the session cache at {location} is unavailable")]
    Cache {
        /// Which `LOCATION` (its password hidden).
        location: String,
        /// What the Redis client said.
        #[source]
        source: redis::RedisError,
    },
    /// PostgreSQL refused or dropped the connection, or a query failed (a missing table, say).
    #[error("the session database is unavailable")]
    Database(#[source] tokio_postgres::Error),
    /// The backend did not answer within the configured timeout.
    #[error("the session {what} did not answer within {after:?}")]
    Timeout {
        /// `cache` or `database`.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The user table has no column the session auth check needs.
    #[error("the user table {table} has no {column} column")]
    UserTable {
        /// The table (`auth_user` unless configured).
        table: String,
        /// The missing column.
        column: &'static str,
    },
}

/// Displays an error with its causes (`a: b: c`), for logs.
pub(crate) struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
