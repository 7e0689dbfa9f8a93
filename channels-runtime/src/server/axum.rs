//! A routing table inside an axum app (feature `axum`): [`ChannelsService`], a tower service that
//! axum mounts at a path or as its fallback, next to the app's own handlers.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use channels_runtime::{Message, Result, Server};
//! use channels_runtime::routing::{Consumer, Route, Routing};
//!
//! #[derive(Clone)]
//! struct AppState {
//!     motd: &'static str,
//! }
//!
//! // A consumer reads the app's state as a handler does with `State<AppState>`.
//! async fn greet(message: Message) -> Result<()> {
//!     let motd = message.state::<AppState>().map_or("", |state| state.motd);
//!     message.reply_channel.accept().await?;
//!     message.reply_channel.send_text(motd).await
//! }
//!
//! # async fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! let state = AppState { motd: "welcome" };
//! let routing = Routing::new().route(Route::to(
//!     "websocket.connect",
//!     None,
//!     Consumer::from_async("greet", greet),
//! ));
//! // Builds the server's shared state and starts its workers; no port of its own.
//! let channels = Server::new(routing).into_axum_service()?.with_state(state.clone());
//! let app = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .route_service("/ws/{*rest}", channels.clone())
//!     .with_state(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! // With connect info, consumers see the client's address (`message.content.client()`).
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
//!     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! // axum has stopped serving HTTP; close the WebSockets (1001) and let their disconnect consumers run.
//! channels.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! # What axum's server decides, and what this service does
//!
//! The service answers each request as [`Server`] does (the same handshake checks, origins, limits on
//! messages and connections, consumers and layer); what belongs to the connection is axum's: the
//! listener, TLS, HTTP/1 timeouts and the request head's size are those of `axum::serve` (or whatever
//! hyper server runs the app), not [`ServerConfig`](super::ServerConfig)'s `handshake_timeout`,
//! `min_body_rate` and `max_header_bytes`.
//!
//! Under `nest_service("/prefix", ..)` axum strips the prefix, and the routing table matches the rest
//! of the path (`/prefix/chat/` is `/chat/` to it), as a nested axum router would; under
//! `route_service` and `fallback_service` the table sees the whole path.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use hyper::{Request, Response, StatusCode, header};

use super::service::{self, BoxError};
use super::{Server, ServerError, ServerHandle, Shared, limits};
use crate::layer::ChannelLayer;
use crate::message::AppState;

/// A routing table served inside an axum app: a cloneable tower [`Service`](tower_service::Service)
/// for `Router::route_service`, `nest_service` or `fallback_service`, built by
/// [`Server::into_axum_service`] (so with the server's layer, config and routing checks).
///
/// The service owns what the server runs besides connections: the worker consumers of the custom
/// channels and the layer's clock. They run until [`shutdown`](Self::shutdown), or until the last
/// clone of the service is dropped (axum's router holds clones for as long as it serves).
///
/// Consumers read the app's state with [`Message::state`](crate::Message::state) once it is given
/// with [`with_state`](Self::with_state); the client's address comes from axum's `ConnectInfo`
/// (`into_make_service_with_connect_info::<SocketAddr>()`), and is `None` without it.
#[derive(Debug, Clone)]
pub struct ChannelsService {
    shared: Arc<Shared>,
    running: Arc<Running>,
    state: Option<AppState>,
}

/// The running server without a listener: its workers and clock stop when it is dropped.
#[derive(Debug)]
struct Running(Mutex<Option<ServerHandle>>);

impl Server {
    /// This server as a service to mount in an axum `Router` instead of a port of its own (see the
    /// [`axum`](crate::axum) module): the routing is checked, and the workers of its custom channels
    /// start now.
    ///
    /// # Errors
    /// [`ServerError::Routing`] for a route table with invalid entries.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does): the workers need one.
    pub fn into_axum_service(self) -> Result<ChannelsService, ServerError> {
        let handle = self.start_in_process()?;
        Ok(ChannelsService {
            shared: handle.shared.clone(),
            running: Arc::new(Running(Mutex::new(Some(handle)))),
            state: None,
        })
    }
}

impl ChannelsService {
    /// Gives the app's state to every consumer of the connections this service opens: they read it with
    /// [`Message::state::<S>()`](crate::Message::state), where an axum handler would take `State<S>`.
    /// Pass the value given to `Router::with_state` (a clone), so that both see the same data; `S` is
    /// usually an `Arc` or a struct of `Arc`s.
    ///
    /// ```no_run
    /// # fn run(channels: channels_runtime::axum::ChannelsService) {
    /// #[derive(Clone)]
    /// struct AppState { visits: std::sync::Arc<std::sync::atomic::AtomicU64> }
    /// let state = AppState { visits: Default::default() };
    /// let channels = channels.with_state(state.clone());
    /// let app: axum::Router = axum::Router::new().fallback_service(channels).with_state(state);
    /// # }
    /// ```
    pub fn with_state<S: Clone + Send + Sync + 'static>(mut self, state: S) -> Self {
        self.state = Some(AppState(Arc::new(state), std::any::type_name::<S>()));
        self
    }

    /// The channel layer: bind it (`Group::with_layer(channels.layer())`) to send to groups from axum
    /// handlers or background tasks, as [`ServerHandle::layer`] does for a server.
    pub fn layer(&self) -> Arc<dyn ChannelLayer> {
        self.shared.layer.clone()
    }

    /// How many WebSocket connections are open (see [`ServerHandle::connections`]).
    pub fn connections(&self) -> usize {
        self.shared.connections.count()
    }

    /// Waits until at most `n` WebSocket connections are open, their disconnect consumers included.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn wait_for_connections(&self, n: usize) {
        self.shared.connections.wait_for_at_most(n).await;
    }

    /// Stops the workers, closes every open WebSocket with 1001 (going away), and waits up to `grace`
    /// for their disconnect consumers; from then on every request this service gets is answered 503.
    /// Call it when the axum server stops (after `axum::serve(..).with_graceful_shutdown(..)` returns):
    /// upgraded connections are no longer axum's, so its graceful shutdown does not wait for them.
    /// Any clone may call it; later calls only wait for the connections.
    pub async fn shutdown(&self, grace: Duration) {
        let handle = self
            .running
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match handle {
            Some(handle) => handle.shutdown(grace).await,
            None => {
                let _ = tokio::time::timeout(grace, self.wait_for_connections(0)).await;
            }
        }
    }
}

impl<B> tower_service::Service<Request<B>> for ChannelsService
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<::axum::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        if let Some(state) = &self.state {
            req.extensions_mut().insert(state.clone());
        }
        let client = req
            .extensions()
            .get::<::axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0);
        // Its span, its access log line, its counts, as the server's own connections: see `observe`.
        Box::pin(super::observe::request(client, req, move |req| {
            async move {
                if shared.shutdown.is_raised() {
                    return Ok(unavailable());
                }
                // As the server's own connections do: past `max_connections` a handshake gets 503.
                let _slot = match limits::admit(&shared, &req) {
                    Ok(slot) => slot,
                    Err(refused) => return Ok(refused.response().map(::axum::body::Body::new)),
                };
                let response = service::handle(shared, client, req).await?;
                Ok(response.map(::axum::body::Body::new))
            }
        }))
    }
}

/// The answer of a service that has shut down.
fn unavailable() -> Response<::axum::body::Body> {
    let mut response = Response::new(::axum::body::Body::from("Service Unavailable\n"));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
