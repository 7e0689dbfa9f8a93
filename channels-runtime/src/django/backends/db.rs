//! `django.contrib.sessions.backends.db`: the `django_session` row whose `expire_date` is in the future;
//! its `session_data` is `signing.dumps(session, salt="django.contrib.sessions.SessionStore",
//! compress=True)` with no age limit.

use std::sync::Arc;

use serde_json::Value;

use super::SessionData;
use super::database::Database;
use crate::django::config::DjangoSettings;
use crate::django::error::DjangoError;
use crate::django::signing::TimestampSigner;

/// `SessionBase.key_salt` for the db and cached_db stores: `"django.contrib.sessions." +
/// SessionStore.__qualname__`.
pub const SALT: &str = "django.contrib.sessions.SessionStore";

/// Sessions in PostgreSQL's `django_session` (`DATABASES`).
#[derive(Debug, Clone)]
pub struct DbSessions {
    pub(crate) database: Arc<Database>,
    signer: TimestampSigner,
    pub(super) cookie_name: String,
}

impl DbSessions {
    /// On `DATABASES`, decoding with `SECRET_KEY` and `SECRET_KEY_FALLBACKS`. Connects on first use.
    pub fn new(settings: &DjangoSettings) -> Result<DbSessions, DjangoError> {
        let database = Database::from_settings(settings).ok_or(DjangoError::MissingDatabase {
            engine: "django.contrib.sessions.backends.db",
        })?;
        Ok(DbSessions::on(Arc::new(database), settings))
    }

    pub(crate) fn on(database: Arc<Database>, settings: &DjangoSettings) -> DbSessions {
        DbSessions {
            database,
            signer: TimestampSigner::new(&settings.secret_key, SALT)
                .with_fallback_keys(&settings.secret_key_fallbacks),
            cookie_name: settings.session_cookie_name.clone(),
        }
    }

    /// The session with this key: `Ok(None)` when there is no such row, it expired, or its data doesn't
    /// verify (Django logs "Session data corrupted" and starts an empty session then).
    pub async fn load(&self, session_key: &str) -> Result<Option<SessionData>, DjangoError> {
        if !super::valid_key(session_key) {
            return Ok(None);
        }
        let Some(data) = self.database.session_data(session_key).await? else {
            return Ok(None);
        };
        match self.signer.unsign_object(&data, None) {
            Ok(Value::Object(session)) => Ok(Some(session)),
            Ok(_) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "Django session data corrupted");
                Ok(None)
            }
        }
    }
}
