//! [`HttpSessionMiddleware`]: Channels' `SessionMiddleware`, the web session from the session cookie.

use std::sync::Arc;

use super::{Middleware, Refusal};
use crate::message::Scope;
use crate::session::{HttpSession, HttpSessionStore};

/// Loads the web session named by the handshake's session cookie from `store` and puts it on the scope,
/// where every consumer reads it with `message.http_session()` (Channels' `SessionMiddleware`,
/// `scope["session"]`).
///
/// No cookie, or a key the store doesn't know (expired, tampered with): no session, and the connection
/// goes on (a middleware after it decides whether an anonymous client may connect). A store that fails
/// refuses the connection with 503 and logs the error: a backend outage is never mistaken for "no
/// session".
///
/// ```
/// use channels_runtime::auth::HttpSessionMiddleware;
/// use channels_runtime::routing::Routing;
/// use channels_runtime::session::MemorySessionStore;
/// let store = MemorySessionStore::default();
/// let routing = Routing::new().with_middleware(HttpSessionMiddleware::new(store.clone()));
/// ```
#[derive(Debug, Clone)]
pub struct HttpSessionMiddleware<S: HttpSessionStore> {
    store: Arc<S>,
}

impl<S: HttpSessionStore> HttpSessionMiddleware<S> {
    /// A middleware that reads sessions from `store`.
    pub fn new(store: S) -> Self {
        HttpSessionMiddleware {
            store: Arc::new(store),
        }
    }

    /// A middleware that reads sessions from a store shared with other code (a login view).
    pub fn shared(store: Arc<S>) -> Self {
        HttpSessionMiddleware { store }
    }
}

#[async_trait::async_trait]
impl<S: HttpSessionStore> Middleware for HttpSessionMiddleware<S> {
    async fn on_connect(&self, scope: &mut Scope) -> Result<(), Refusal> {
        let Some(key) = scope.cookie(self.store.cookie_name()).map(str::to_owned) else {
            return Ok(());
        };
        match self.store.load(&key).await {
            Ok(Some(data)) => {
                scope.set_http_session(HttpSession::new(key, data));
                Ok(())
            }
            Ok(None) => {
                tracing::debug!(path = %scope.path, "session cookie names no session; going on without one");
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    store = ?self.store,
                    error = &error as &dyn std::error::Error,
                    "could not load the web session; refusing with 503"
                );
                Err(Refusal::new(503, "session store unavailable"))
            }
        }
    }
}
