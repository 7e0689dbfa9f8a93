//! [`DjangoAuthMiddleware`]: Channels' `AuthMiddlewareStack` for Django's own sessions.

use std::sync::Arc;

use super::backends::database::Database;
use super::backends::{DjangoSessions, SessionData};
use super::config::{BackendDown, DjangoSettings};
use super::error::{Chain, DjangoError};
use super::user::{DjangoUser, user_of};
use crate::auth::{Middleware, Refusal};
use crate::message::Scope;
use crate::session::HttpSession;

/// Reads Django's session cookie (`SESSION_COOKIE_NAME`) on each handshake, finds the session with the
/// `SESSION_ENGINE` Django uses, and puts the [`DjangoUser`] on the scope, as Channels'
/// `AuthMiddlewareStack` puts `scope["user"]`: anonymous when there is no cookie, no such session, or it
/// expired or was tampered with. A backend that is down refuses the handshake with HTTP 503, or gives
/// an anonymous user, as [`DjangoSettings::on_backend_down`] says; the error is logged either way.
///
/// ```
/// use channels_runtime::django::{DjangoAuthMiddleware, DjangoSettings, DjangoUser, SessionEngine};
/// use channels_runtime::routing::{Consumer, Route, Routing};
/// use channels_runtime::Message;
///
/// let auth = DjangoAuthMiddleware::new(DjangoSettings {
///     secret_key: "the Django project's SECRET_KEY".into(),
///     session_engine: SessionEngine::SignedCookies,
///     ..DjangoSettings::default()
/// })
/// .expect("signed cookies need nothing but SECRET_KEY");
///
/// let hello = Consumer::from_async("hello", |message: Message| async move {
///     let who = match message.user::<DjangoUser>() {
///         Some(DjangoUser::Authenticated { id, .. }) => format!("user {id}"),
///         _ => "anonymous".to_owned(),
///     };
///     message.reply_channel.send_text(format!("hello, {who}")).await
/// });
/// let routing = Routing::new()
///     .with_middleware(auth)
///     .route(Route::to("websocket.receive", None, hello));
/// ```
#[derive(Debug, Clone)]
pub struct DjangoAuthMiddleware {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: DjangoSettings,
    sessions: DjangoSessions,
    database: Option<Arc<Database>>,
}

impl DjangoAuthMiddleware {
    /// From the settings; an error when the engine's cache or database is not configured. Connects on
    /// first use.
    pub fn new(settings: DjangoSettings) -> Result<DjangoAuthMiddleware, DjangoError> {
        let sessions = DjangoSessions::new(&settings)?;
        // One connection for the sessions and the users when the engine has one.
        let database = sessions
            .database()
            .or_else(|| Database::from_settings(&settings).map(Arc::new));
        Ok(DjangoAuthMiddleware {
            inner: Arc::new(Inner {
                settings,
                sessions,
                database,
            }),
        })
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &DjangoSettings {
        &self.inner.settings
    }

    /// The session store it reads (an [`HttpSessionStore`](crate::session) too).
    pub fn sessions(&self) -> &DjangoSessions {
        &self.inner.sessions
    }

    /// The session and the user the cookie value `session_key` names; `Err` only when a backend can't
    /// answer.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only reads.
    pub async fn authenticate(
        &self,
        session_key: Option<&str>,
    ) -> Result<(Option<SessionData>, DjangoUser), DjangoError> {
        let Some(session_key) = session_key.filter(|key| !key.is_empty()) else {
            return Ok((None, DjangoUser::Anonymous));
        };
        let Some(session) = self.inner.sessions.load(session_key).await? else {
            return Ok((None, DjangoUser::Anonymous));
        };
        let user = user_of(
            &session,
            &self.inner.settings,
            self.inner.sessions.engine(),
            self.inner.database.as_deref(),
        )
        .await?;
        Ok((Some(session), user))
    }
}

#[async_trait::async_trait]
impl Middleware for DjangoAuthMiddleware {
    /// Sets the [`DjangoUser`] (and, when the cookie names a session, the
    /// [`HttpSession`](crate::session::HttpSession), Channels' `scope["session"]`) on the scope.
    async fn on_connect(&self, scope: &mut Scope) -> Result<(), Refusal> {
        let key = scope
            .cookie(&self.inner.settings.session_cookie_name)
            .map(str::to_owned);
        match self.authenticate(key.as_deref()).await {
            Ok((session, user)) => {
                if let (Some(key), Some(data)) = (key, session) {
                    scope.set_http_session(HttpSession::new(key, data));
                }
                tracing::debug!(path = %scope.path, ?user, "Django user");
                scope.set_user(user);
                Ok(())
            }
            Err(error) => {
                let down = self.inner.settings.on_backend_down;
                tracing::error!(
                    error = %Chain(&error),
                    path = %scope.path,
                    ?down,
                    "Django session backend unavailable"
                );
                match down {
                    BackendDown::Refuse => Err(Refusal::new(503, error.to_string())),
                    BackendDown::Anonymous => {
                        scope.set_user(DjangoUser::Anonymous);
                        Ok(())
                    }
                }
            }
        }
    }
}
