//! Django's logged-in user on a Rust socket (feature `django`): a handshake that carries Django's
//! session cookie gives the consumer the Django user, for the session engines a Django fleet shares —
//! `signed_cookies` (signed with `SECRET_KEY`), `cache` and `cached_db` on Redis (Django's `RedisCache`),
//! and `db` on PostgreSQL — read exactly as Django writes them.
//!
//! [`DjangoSettings`] takes the settings.py lines under their Django names; [`DjangoAuthMiddleware`] is
//! Channels' `AuthMiddlewareStack` (its docs have an example); consumers read
//! `message.user::<DjangoUser>()`. Each engine is also an
//! [`HttpSessionStore`](crate::session::HttpSessionStore), for
//! [`HttpSessionMiddleware`](crate::auth::HttpSessionMiddleware) alone.
//!
//! What is checked, by engine:
//! - `signed_cookies`: the signature (HMAC-SHA256 with `SECRET_KEY` or a fallback, salt
//!   `django.contrib.sessions.backends.signed_cookies`) and the age (`SESSION_COOKIE_AGE`);
//! - `cache`: that the cache holds the key (Django gives it the session's age as TTL);
//! - `db`: a `django_session` row with `expire_date > now()` whose `session_data` verifies (salt
//!   `django.contrib.sessions.SessionStore`);
//! - `cached_db`: the cache, else the `db` check;
//! - then, with any engine: `_auth_user_backend` is in `AUTHENTICATION_BACKENDS`; and when `DATABASES`
//!   is set, the user exists, is active, and `_auth_user_hash` is the HMAC of their current password hash
//!   (Django's `get_user`: a password change logs every session out). Without `DATABASES`, the session's
//!   `_auth_user_id` is taken as it is (`DjangoUser::Authenticated { verified: false, .. }`).

mod backends;
mod config;
mod error;
mod middleware;
pub mod signing;
mod user;

pub use backends::{
    CacheSessions, CachedDbSessions, DbSessions, DjangoSessions, SessionData, SignedCookieSessions,
};
pub use config::{
    BackendDown, CacheSettings, DatabaseSettings, DjangoSettings, SessionEngine, UserModelSettings,
};
pub use error::{DjangoError, SigningError};
pub use middleware::DjangoAuthMiddleware;
pub use user::{
    BACKEND_SESSION_KEY, DjangoUser, HASH_SESSION_KEY, SESSION_AUTH_HASH_SALT, SESSION_KEY,
};
