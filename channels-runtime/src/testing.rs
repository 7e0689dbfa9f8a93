//! Testing consumers as Channels tests them: [`WebsocketCommunicator`] and [`HttpCommunicator`], against
//! a [`TestServer`] that runs your routing table on the real server, either on a free loopback port
//! ([`TestServer::start`]) or in process, without a socket ([`TestServer::in_process`]).
//!
//! In process, client and server talk through an in-memory pipe, so nothing waits on the operating
//! system: the test runs under tokio's paused clock (`#[tokio::test(start_paused = true)]`), and a
//! consumer that sleeps, ticks or times out is tested deterministically, without waiting for real time.
//! Everything else is the same server (handshake, dispatch, error modes, limits).
//!
//! Every receive waits at most [`WebsocketCommunicator::TIMEOUT`] and then fails with
//! [`TestError::Timeout`], so a consumer that never answers fails the test instead of hanging it.
//!
//! # Cancel safety
//! The receives are cancel-safe: a frame is returned, or left for the next receive. A send or a
//! handshake that is cancelled may have been sent in part.
//!
//! ```
//! use channels_runtime::routing::{Consumer, Route, Routing};
//! use channels_runtime::testing::{TestServer, WebsocketCommunicator};
//! use channels_runtime::Message;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let echo = Consumer::from_async("echo", |m: Message| async move {
//!     m.reply_channel.send_text(m.text().unwrap_or_default().to_owned()).await
//! });
//! let server = TestServer::start(Routing::new().route(Route::to("websocket.receive", None, echo))).await?;
//! let mut client = WebsocketCommunicator::connect(&server, "/chat/").await?;
//! client.send_text("hello").await?;
//! assert_eq!(client.receive_text().await?, "hello");
//! assert!(client.receive_nothing().await?);
//! # Ok(()) }
//! ```
//!
//! | Channels (`channels.testing`) | here |
//! |---|---|
//! | `WebsocketCommunicator(application, "/chat/", headers=[...], subprotocols=[...])` | `WebsocketCommunicator::build(&server, "/chat/").header(..).cookie(..).origin(..).subprotocols([..])` |
//! | `connected, subprotocol = await communicator.connect()` | `.connect().await?` (a refused handshake is [`TestError::Refused`]), then `.subprotocol()` |
//! | `await communicator.send_to(text_data=...)` / `send_json_to(data)` | `send_text(..)` / `send_json_to(&data)` |
//! | `await communicator.receive_from()` / `receive_json_from()` | `receive_from()` / `receive_json_from()` |
//! | `assert await communicator.receive_nothing()` | `assert!(client.receive_nothing().await?)` |
//! | `await communicator.disconnect()` | `client.disconnect().await?` |
//! | `HttpCommunicator(application, "GET", "/")`, `await communicator.get_response()` | `HttpCommunicator::new(&server, "GET", "/").get_response().await?` |
//! | `ApplicationCommunicator` with a paused clock | [`TestServer::in_process`] under `#[tokio::test(start_paused = true)]` |

mod http;
mod transport;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite;

use crate::layer::InMemoryLayer;
use crate::routing::Routing;
use crate::{Server, ServerConfig, ServerError, ServerHandle};

pub use http::{HttpCommunicator, TestResponse};
pub use websocket::{WebsocketCommunicator, WebsocketRequest};

use transport::Transport;

/// What can go wrong while testing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The server refused the handshake with this HTTP status (403, 404, 500, ...).
    #[error("handshake refused with HTTP {0}")]
    Refused(u16),
    /// Nothing arrived in time.
    #[error("nothing arrived within {0:?}")]
    Timeout(Duration),
    /// The server closed the connection (with this close code) instead of sending what was expected.
    #[error("the server closed the connection with code {0}")]
    Closed(u16),
    /// A frame of another kind arrived.
    #[error("expected {expected}, got {got}")]
    Unexpected {
        /// What the test waited for.
        expected: &'static str,
        /// What came.
        got: String,
    },
    /// The WebSocket failed.
    #[error(transparent)]
    WebSocket(#[from] tungstenite::Error),
    /// The HTTP exchange failed (the connection broke, the response was malformed).
    #[error(transparent)]
    Http(#[from] hyper::Error),
    /// The request could not be built (a header value with a newline, say).
    #[error("invalid request: {0}")]
    Request(String),
    /// The server could not be reached.
    #[error("could not connect: {0}")]
    Connect(#[from] std::io::Error),
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A JSON frame did not parse.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// A server for tests with its own [`InMemoryLayer`], stopped when dropped: on `127.0.0.1:<free port>`
/// ([`start`](Self::start)) or in process ([`in_process`](Self::in_process)). The communicators work the
/// same with both.
#[derive(Debug)]
pub struct TestServer {
    handle: ServerHandle,
    layer: InMemoryLayer,
    transport: Transport,
}

impl TestServer {
    /// Starts `routing` on a free loopback port, with default limits.
    pub async fn start(routing: Routing) -> Result<TestServer, TestError> {
        TestServer::start_with(routing, ServerConfig::default()).await
    }

    /// Starts `routing` on a free loopback port, with `config`.
    pub async fn start_with(
        routing: Routing,
        config: ServerConfig,
    ) -> Result<TestServer, TestError> {
        let layer = InMemoryLayer::new();
        let handle = server(routing, &layer, config).spawn("127.0.0.1:0").await?;
        let transport = Transport::Socket(handle.local_addr());
        Ok(TestServer {
            handle,
            layer,
            transport,
        })
    }

    /// Starts `routing` in process, without a socket: each communicator talks to the server through an
    /// in-memory pipe. Under tokio's paused clock (`#[tokio::test(start_paused = true)]`, a
    /// current-thread runtime) timers then fire as soon as every task waits, so timing-dependent
    /// consumers test deterministically.
    ///
    /// ```
    /// use std::time::Duration;
    /// use channels_runtime::routing::{Consumer, Route, Routing};
    /// use channels_runtime::testing::{TestServer, WebsocketCommunicator};
    /// use channels_runtime::Message;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Answers after an hour: instant under the paused clock.
    /// let late = Consumer::from_async("late", |m: Message| async move {
    ///     tokio::time::sleep(Duration::from_secs(3600)).await;
    ///     m.reply_channel.send_text("an hour later").await
    /// });
    /// let routing = Routing::new().route(Route::to("websocket.receive", None, late));
    /// let server = TestServer::in_process(routing).await?;
    /// let mut client = WebsocketCommunicator::connect(&server, "/").await?;
    /// client.send_text("go").await?;
    /// assert!(client.receive_nothing().await?); // not within 100 ms...
    /// let long = WebsocketCommunicator::TIMEOUT; // ...nor within the receive timeout...
    /// assert!(client.receive_nothing_within(long).await?);
    /// tokio::time::advance(Duration::from_secs(3600)).await;
    /// assert_eq!(client.receive_text().await?, "an hour later"); // ...but after an hour
    /// # Ok(()) }
    /// ```
    ///
    /// Keepalive pings are off here (`ServerConfig::ping_interval(None)`): a test that lets an hour of
    /// paused time pass without reading would otherwise be dropped as a dead peer, which Channels'
    /// `ApplicationCommunicator` never does. Pass a config to [`in_process_with`](Self::in_process_with)
    /// to test keepalive itself.
    pub async fn in_process(routing: Routing) -> Result<TestServer, TestError> {
        TestServer::in_process_with(routing, ServerConfig::default().ping_interval(None)).await
    }

    /// [`in_process`](Self::in_process), with `config`.
    pub async fn in_process_with(
        routing: Routing,
        config: ServerConfig,
    ) -> Result<TestServer, TestError> {
        let layer = InMemoryLayer::new();
        let handle = server(routing, &layer, config).start_in_process()?;
        Ok(TestServer {
            handle,
            layer,
            transport: Transport::InProcess,
        })
    }

    /// The running server (connection count, shutdown). In process, its `local_addr` is `0.0.0.0:0`.
    pub fn handle(&self) -> &ServerHandle {
        &self.handle
    }

    /// The loopback address, for a client of your own; `None` in process.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.transport {
            Transport::Socket(addr) => Some(addr),
            Transport::InProcess => None,
        }
    }

    /// The server's layer, to inspect groups (`group_len`) or send from outside consumers.
    pub fn layer(&self) -> &InMemoryLayer {
        &self.layer
    }

    /// The running server and its layer, for tests that manage them themselves.
    pub fn into_parts(self) -> (ServerHandle, InMemoryLayer) {
        (self.handle, self.layer)
    }
}

fn server(routing: Routing, layer: &InMemoryLayer, config: ServerConfig) -> Server {
    Server::new(routing)
        .with_layer(Arc::new(layer.clone()))
        .with_config(config)
}
