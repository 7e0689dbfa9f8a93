//! [`DjangoUser`]: who the session says is logged in, checked as Django's `get_user` checks it.

use super::backends::SessionData;
use super::backends::database::Database;
use super::config::{DjangoSettings, SessionEngine};
use super::error::DjangoError;
use super::signing::verify_salted_hmac_hex;

/// `django.contrib.auth.SESSION_KEY`: the user's primary key, as text.
pub const SESSION_KEY: &str = "_auth_user_id";
/// `django.contrib.auth.BACKEND_SESSION_KEY`: the dotted path of the backend that logged the user in.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// `django.contrib.auth.HASH_SESSION_KEY`: the session auth hash (an HMAC of the password hash).
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";
/// The `key_salt` of `AbstractBaseUser.get_session_auth_hash`.
pub const SESSION_AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// Django's logged-in user on a connection (Channels' `scope["user"]` after `AuthMiddlewareStack`), set
/// by [`DjangoAuthMiddleware`](super::DjangoAuthMiddleware) on every handshake it runs for: read it with
/// `message.user::<DjangoUser>()`.
///
/// ```
/// use channels_runtime::django::DjangoUser;
/// let user = DjangoUser::Anonymous;
/// assert!(!user.is_authenticated());
/// assert_eq!(user.id(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DjangoUser {
    /// No session, or one that expired, was tampered with, names no user, or whose user is gone, inactive
    /// or changed their password (when `DATABASES` is set). Django's `AnonymousUser`.
    Anonymous,
    /// A logged-in user.
    Authenticated {
        /// The user's primary key as Django's session holds it (`pk.value_to_string()`: `"42"`).
        id: String,
        /// The authentication backend that logged them in (`_auth_user_backend`).
        backend: String,
        /// The session engine the session came from.
        engine: SessionEngine,
        /// Whether the session auth hash was checked against the user's password hash in the database
        /// (only when `DATABASES` is set).
        verified: bool,
    },
}

impl DjangoUser {
    /// Django's `user.is_authenticated`.
    pub fn is_authenticated(&self) -> bool {
        matches!(self, DjangoUser::Authenticated { .. })
    }

    /// The user's primary key as text (`user.pk`), `None` for the anonymous user.
    pub fn id(&self) -> Option<&str> {
        match self {
            DjangoUser::Authenticated { id, .. } => Some(id),
            DjangoUser::Anonymous => None,
        }
    }

    /// The primary key as an integer (Django's default `AutoField`/`BigAutoField`).
    pub fn id_i64(&self) -> Option<i64> {
        self.id().and_then(|id| id.parse().ok())
    }
}

/// Who `session` says is logged in, checked as Django's `get_user`: the backend must be in
/// `AUTHENTICATION_BACKENDS`; with a database, the user must exist, be active, and the session auth hash
/// must match their password hash under `SECRET_KEY` or one of `SECRET_KEY_FALLBACKS`.
pub(crate) async fn user_of(
    session: &SessionData,
    settings: &DjangoSettings,
    engine: SessionEngine,
    database: Option<&Database>,
) -> Result<DjangoUser, DjangoError> {
    let text = |key: &str| session.get(key).and_then(serde_json::Value::as_str);
    // `pk.value_to_string()`; sessions written by Django before 1.7 hold an integer.
    let id = match session.get(SESSION_KEY) {
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(serde_json::Value::Number(id)) => id.to_string(),
        _ => return Ok(DjangoUser::Anonymous),
    };
    let id = id.as_str();
    let Some(backend) = text(BACKEND_SESSION_KEY) else {
        return Ok(DjangoUser::Anonymous);
    };
    if !settings
        .authentication_backends
        .iter()
        .any(|b| b == backend)
    {
        tracing::debug!(
            backend,
            "session logged in through a backend not in AUTHENTICATION_BACKENDS"
        );
        return Ok(DjangoUser::Anonymous);
    }
    let verified = match database {
        None => false,
        Some(database) => {
            let Some(user) = database.user(id).await? else {
                return Ok(DjangoUser::Anonymous);
            };
            if !user.is_active {
                return Ok(DjangoUser::Anonymous);
            }
            let Some(hash) = text(HASH_SESSION_KEY).filter(|h| !h.is_empty()) else {
                return Ok(DjangoUser::Anonymous);
            };
            let secrets =
                std::iter::once(&settings.secret_key).chain(&settings.secret_key_fallbacks);
            let matches = secrets.into_iter().any(|secret| {
                verify_salted_hmac_hex(
                    SESSION_AUTH_HASH_SALT,
                    user.password.as_bytes(),
                    secret.as_bytes(),
                    hash,
                )
            });
            if !matches {
                tracing::debug!(id, "session auth hash does not match the password");
                return Ok(DjangoUser::Anonymous);
            }
            true
        }
    };
    Ok(DjangoUser::Authenticated {
        id: id.to_owned(),
        backend: backend.to_owned(),
        engine,
        verified,
    })
}
