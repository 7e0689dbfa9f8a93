//! Middleware (Channels' `AuthMiddlewareStack`, `SessionMiddlewareStack`, `CookieMiddleware` and your
//! own): code that runs once per WebSocket handshake, before the connect consumer, and once per
//! `http.request`, before its consumer, and can refuse the connection or attach a user to it.
//!
//! A [`Middleware`] sees the connection's [`Scope`] (path, headers, [cookies](Scope::cookies), [query
//! string](Scope::query)) and either returns `Ok(())`, having perhaps attached a user
//! ([`Scope::set_user`]) or a web session ([`Scope::set_http_session`]), or a [`Refusal`]: the client
//! gets its status (403 by default) and no consumer runs (so no `websocket.disconnect` is owed either).
//!
//! Middleware is attached to a routing table
//! ([`Routing::with_middleware`](crate::routing::Routing::with_middleware), for every route of the table
//! and the tables it includes or mounts), to one route
//! ([`Route::with_middleware`](crate::routing::Route::with_middleware)), or in `channel_routing!`'s
//! header (`middleware = expr;`). Several run in order, outermost
//! table first, then inner tables, then the route's own, each in the order it was added: Channels'
//! `CookieMiddleware(SessionMiddleware(AuthMiddleware(inner)))` is three `with_middleware` calls in that
//! order. The first refusal stops the rest. For a WebSocket, the middleware of the routes bound to the
//! connection's `websocket.connect`, `websocket.receive` and `websocket.disconnect` run, each once.
//!
//! ```
//! use channels_runtime::auth::{self, Refusal};
//! use channels_runtime::routing::{Consumer, Route, Routing};
//! use channels_runtime::{Message, Result};
//!
//! #[derive(Debug)]
//! struct User { name: String }
//!
//! async fn hello(message: Message) -> Result<()> {
//!     let name = message.user::<User>().map_or("?", |u| u.name.as_str()).to_owned();
//!     message.reply_channel.send_text(format!("hello {name}")).await
//! }
//!
//! let token_auth = auth::from_fn("token_auth", |scope| match scope.query("token") {
//!     Some("s3cret") => {
//!         scope.set_user(User { name: "alice".into() });
//!         Ok(())
//!     }
//!     _ => Err(Refusal::forbidden("unknown token")),
//! });
//! let routing = Routing::new()
//!     .with_middleware(token_auth)
//!     .route(Route::to("websocket.receive", None, Consumer::from_async("hello", hello)));
//! ```

mod http_session;

use std::sync::Arc;

use crate::message::Scope;
use crate::routing::Routing;

pub use self::http_session::HttpSessionMiddleware;

/// Channels' middleware: runs once per WebSocket handshake (before the connect consumer) and once per
/// `http.request` (before its consumer), after routing matched the path. See the [module docs](self).
///
/// ```
/// use channels_runtime::auth::{Middleware, Refusal};
/// use channels_runtime::Scope;
///
/// /// Refuses clients that don't send `X-Api-Key: k`, with 401.
/// #[derive(Debug)]
/// struct ApiKey;
///
/// #[async_trait::async_trait]
/// impl Middleware for ApiKey {
///     async fn on_connect(&self, scope: &mut Scope) -> Result<(), Refusal> {
///         let key = scope.header("x-api-key");
///         match key {
///             Some("k") => Ok(()),
///             _ => Err(Refusal::new(401, "missing or wrong X-Api-Key")),
///         }
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Middleware: Send + Sync + std::fmt::Debug + 'static {
    /// Looks at (and may add to) the connection's scope before any consumer runs; a [`Refusal`] answers
    /// the handshake or request with its status instead.
    async fn on_connect(&self, scope: &mut Scope) -> Result<(), Refusal>;
}

/// A middleware's refusal: the handshake or request is answered with `status` (403 by default) and no
/// consumer runs. `reason` is logged (at info level), not sent: the client sees the status's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused with {status}: {reason}")]
pub struct Refusal {
    /// The HTTP status to answer with (an invalid one, outside 400..=599, is answered with 403).
    pub status: u16,
    /// Why, for the log.
    pub reason: String,
}

impl Refusal {
    /// A refusal with `status`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
        }
    }

    /// A refusal with 403 Forbidden, as Channels' `AuthMiddleware` stack denies a connection.
    ///
    /// ```
    /// use channels_runtime::auth::Refusal;
    /// assert_eq!(Refusal::forbidden("no token").status, 403);
    /// ```
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Refusal::new(403, reason)
    }

    /// The status to answer with: `status`, or 403 when it is not an error status.
    pub(crate) fn status_code(&self) -> hyper::StatusCode {
        match hyper::StatusCode::from_u16(self.status) {
            Ok(status) if status.is_client_error() || status.is_server_error() => status,
            _ => hyper::StatusCode::FORBIDDEN,
        }
    }

    /// The status and its text (`Forbidden`), what the client is sent.
    fn answer(&self) -> (hyper::StatusCode, &'static str) {
        let status = self.status_code();
        (status, status.canonical_reason().unwrap_or("Refused"))
    }
}

/// A middleware from a closure over the scope: `name` is its name in logs and `Debug`.
///
/// The closure is synchronous: it reads the scope and attaches a user from what it has at hand (a token
/// table, a signature). A middleware that must wait (a database) implements [`Middleware`].
///
/// ```
/// use channels_runtime::auth::{self, Refusal};
/// let only_local = auth::from_fn("only_local", |scope| match scope.client {
///     Some(addr) if addr.ip().is_loopback() => Ok(()),
///     _ => Err(Refusal::forbidden("not from this machine")),
/// });
/// ```
pub fn from_fn<F>(name: &'static str, f: F) -> FromFn<F>
where
    F: Fn(&mut Scope) -> Result<(), Refusal> + Send + Sync + 'static,
{
    FromFn { name, f }
}

/// The middleware [`from_fn`] makes.
pub struct FromFn<F> {
    name: &'static str,
    f: F,
}

impl<F> std::fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FromFn").field(&self.name).finish()
    }
}

#[async_trait::async_trait]
impl<F> Middleware for FromFn<F>
where
    F: Fn(&mut Scope) -> Result<(), Refusal> + Send + Sync + 'static,
{
    async fn on_connect(&self, scope: &mut Scope) -> Result<(), Refusal> {
        (self.f)(scope)
    }
}

/// The handshake's step: marks the scope as a WebSocket connection's (its channel session is kept in the
/// layer) and runs the middleware of the connection's routes; on a refusal, the status and its text to
/// answer with.
pub(crate) async fn websocket(
    routing: &Routing,
    scope: &mut Scope,
) -> Result<(), (hyper::StatusCode, &'static str)> {
    scope.session.mark_connection();
    let events = [
        crate::message::events::WEBSOCKET_CONNECT,
        crate::message::events::WEBSOCKET_RECEIVE,
        crate::message::events::WEBSOCKET_DISCONNECT,
    ];
    run(routing, &events, scope).await.map_err(|r| r.answer())
}

/// The `http.request` step: runs the middleware of the request's route; on a refusal, the status and
/// its text to answer with.
pub(crate) async fn http(
    routing: &Routing,
    scope: &mut Scope,
) -> Result<(), (hyper::StatusCode, &'static str)> {
    run(routing, &[crate::message::events::HTTP_REQUEST], scope)
        .await
        .map_err(|r| r.answer())
}

/// Runs the middleware `routing` attaches to `events` at the scope's path, in order, until one refuses.
pub(crate) async fn run(
    routing: &Routing,
    events: &[&str],
    scope: &mut Scope,
) -> Result<(), Refusal> {
    if !routing.has_middleware() {
        return Ok(());
    }
    let stack = routing.middleware_for(events, &scope.path);
    run_stack(&stack, scope).await
}

/// Runs `stack` in order until one refuses; logs the refusal.
pub(crate) async fn run_stack(
    stack: &[Arc<dyn Middleware>],
    scope: &mut Scope,
) -> Result<(), Refusal> {
    for middleware in stack {
        if let Err(refusal) = middleware.on_connect(scope).await {
            tracing::info!(
                middleware = ?middleware,
                path = %scope.path,
                status = refusal.status,
                reason = %refusal.reason,
                "middleware refused the connection"
            );
            return Err(refusal);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_status_falls_back_to_403() {
        assert_eq!(Refusal::new(401, "x").status_code().as_u16(), 401);
        assert_eq!(Refusal::new(200, "x").status_code().as_u16(), 403);
        assert_eq!(Refusal::new(42, "x").status_code().as_u16(), 403);
    }

    #[tokio::test]
    async fn a_stack_runs_in_order_and_stops_at_a_refusal() {
        #[derive(Debug, Default)]
        struct Trail(Vec<&'static str>);
        let push = |name: &'static str| {
            Arc::new(from_fn(name, move |scope: &mut Scope| {
                let mut trail = scope
                    .user::<Trail>()
                    .map(|t| t.0.clone())
                    .unwrap_or_default();
                trail.push(name);
                scope.set_user(Trail(trail));
                Ok(())
            })) as Arc<dyn Middleware>
        };
        let refuse = Arc::new(from_fn("refuse", |_: &mut Scope| {
            Err(Refusal::new(401, "no"))
        })) as Arc<dyn Middleware>;
        let mut scope = Scope::default();
        run_stack(&[push("a"), push("b")], &mut scope)
            .await
            .unwrap();
        assert_eq!(scope.user::<Trail>().unwrap().0, ["a", "b"]);
        let mut scope = Scope::default();
        let refused = run_stack(&[push("a"), refuse, push("c")], &mut scope).await;
        assert_eq!(refused, Err(Refusal::new(401, "no")));
        assert_eq!(scope.user::<Trail>().unwrap().0, ["a"]);
    }
}
