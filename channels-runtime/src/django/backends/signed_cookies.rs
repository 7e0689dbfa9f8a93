//! `django.contrib.sessions.backends.signed_cookies`: the cookie is the session, signed with
//! `SECRET_KEY` under the salt `django.contrib.sessions.backends.signed_cookies`, at most
//! `SESSION_COOKIE_AGE` old.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::SessionData;
use crate::django::config::DjangoSettings;
use crate::django::signing::TimestampSigner;

/// The salt Django's signed-cookie `SessionStore` signs with.
pub const SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// Sessions held in the cookie itself. Needs nothing but `SECRET_KEY` (and `SESSION_COOKIE_AGE`).
///
/// ```
/// use channels_runtime::django::{DjangoSettings, SignedCookieSessions};
/// let sessions = SignedCookieSessions::new(&DjangoSettings { secret_key: "k".into(), ..Default::default() });
/// assert!(sessions.load_now("tampered:value:sig").is_none());
/// ```
#[derive(Debug, Clone)]
pub struct SignedCookieSessions {
    signer: TimestampSigner,
    max_age: Duration,
    pub(super) cookie_name: String,
}

impl SignedCookieSessions {
    /// With `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and `SESSION_COOKIE_AGE` from `settings`.
    pub fn new(settings: &DjangoSettings) -> SignedCookieSessions {
        SignedCookieSessions {
            signer: TimestampSigner::new(&settings.secret_key, SALT)
                .with_fallback_keys(&settings.secret_key_fallbacks),
            max_age: settings.session_cookie_age,
            cookie_name: settings.session_cookie_name.clone(),
        }
    }

    /// The session in `cookie` as of `now`: `None` when the signature doesn't match, it is older than
    /// `SESSION_COOKIE_AGE` or it is not a JSON object (Django's `load` starts an empty session then).
    /// Like Django, a `set_expiry` stored in the session is not checked here: the browser drops the
    /// cookie then.
    pub fn load_at(&self, cookie: &str, now: SystemTime) -> Option<SessionData> {
        match self
            .signer
            .unsign_object_at(cookie, Some(self.max_age), now)
        {
            Ok(Value::Object(session)) => Some(session),
            Ok(_) => None,
            Err(error) => {
                tracing::debug!(%error, "signed-cookie session refused");
                None
            }
        }
    }

    /// [`load_at`](Self::load_at) now.
    pub fn load_now(&self, cookie: &str) -> Option<SessionData> {
        self.load_at(cookie, SystemTime::now())
    }
}
