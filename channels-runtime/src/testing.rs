//! Testing helpers, like Channels' `WebsocketCommunicator`: run a routing on a real server on a free
//! loopback port and talk to it with a real WebSocket client.
//!
//! Every receive waits at most [`WebsocketCommunicator::TIMEOUT`] and then fails with
//! [`TestError::Timeout`], so a consumer that never answers fails the test instead of hanging it.
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
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::layer::InMemoryLayer;
use crate::routing::Routing;
use crate::{Server, ServerConfig, ServerError, ServerHandle};

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
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A JSON frame did not parse.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// A server on `127.0.0.1:<free port>` with its own [`InMemoryLayer`], stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    handle: ServerHandle,
    layer: InMemoryLayer,
}

impl TestServer {
    /// Starts `routing` with default limits.
    pub async fn start(routing: Routing) -> Result<TestServer, TestError> {
        TestServer::start_with(routing, ServerConfig::default()).await
    }

    /// Starts `routing` with `config`.
    pub async fn start_with(
        routing: Routing,
        config: ServerConfig,
    ) -> Result<TestServer, TestError> {
        let layer = InMemoryLayer::new();
        let handle = Server::new(routing)
            .with_layer(Arc::new(layer.clone()))
            .with_config(config)
            .spawn("127.0.0.1:0")
            .await?;
        Ok(TestServer { handle, layer })
    }

    /// The running server (address, connection count).
    pub fn handle(&self) -> &ServerHandle {
        &self.handle
    }

    /// The server's layer, to inspect groups (`group_len`) or send from outside consumers.
    pub fn layer(&self) -> &InMemoryLayer {
        &self.layer
    }
}

/// A WebSocket client for tests (Channels' `WebsocketCommunicator`).
#[derive(Debug)]
pub struct WebsocketCommunicator {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WebsocketCommunicator {
    /// How long a receive waits before failing with [`TestError::Timeout`].
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// Opens a WebSocket to `path` on `server`. A refused handshake is [`TestError::Refused`].
    pub async fn connect(server: &TestServer, path: &str) -> Result<Self, TestError> {
        Self::connect_to(server.handle.local_addr(), path).await
    }

    /// Opens a WebSocket to `path` at `addr`.
    pub async fn connect_to(addr: std::net::SocketAddr, path: &str) -> Result<Self, TestError> {
        let url = format!("ws://{addr}{path}");
        match tokio::time::timeout(Self::TIMEOUT, connect_async(url)).await {
            Err(_) => Err(TestError::Timeout(Self::TIMEOUT)),
            Ok(Err(tungstenite::Error::Http(response))) => {
                Err(TestError::Refused(response.status().as_u16()))
            }
            Ok(Err(error)) => Err(error.into()),
            Ok(Ok((socket, _))) => Ok(WebsocketCommunicator { socket }),
        }
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), TestError> {
        Ok(self.socket.send(WsMessage::text(text)).await?)
    }

    /// Sends a binary frame.
    pub async fn send_bytes(&mut self, bytes: impl Into<bytes::Bytes>) -> Result<(), TestError> {
        Ok(self.socket.send(WsMessage::Binary(bytes.into())).await?)
    }

    /// Sends `value` as JSON text.
    pub async fn send_json(&mut self, value: &serde_json::Value) -> Result<(), TestError> {
        self.send_text(&value.to_string()).await
    }

    /// The next data or close frame, skipping pings and pongs.
    pub async fn receive(&mut self) -> Result<WsMessage, TestError> {
        loop {
            let frame = tokio::time::timeout(Self::TIMEOUT, self.socket.next())
                .await
                .map_err(|_| TestError::Timeout(Self::TIMEOUT))?;
            match frame {
                None => return Err(TestError::Closed(1006)),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(frame)) => return Ok(frame),
            }
        }
    }

    /// The next text frame.
    pub async fn receive_text(&mut self) -> Result<String, TestError> {
        match self.receive().await? {
            WsMessage::Text(text) => Ok(text.to_string()),
            WsMessage::Close(frame) => {
                Err(TestError::Closed(frame.map_or(1005, |f| u16::from(f.code))))
            }
            other => Err(TestError::Unexpected {
                expected: "a text frame",
                got: format!("{other:?}"),
            }),
        }
    }

    /// The next text frame, parsed as JSON.
    pub async fn receive_json(&mut self) -> Result<serde_json::Value, TestError> {
        Ok(serde_json::from_str(&self.receive_text().await?)?)
    }

    /// The next binary frame.
    pub async fn receive_bytes(&mut self) -> Result<bytes::Bytes, TestError> {
        match self.receive().await? {
            WsMessage::Binary(bytes) => Ok(bytes),
            WsMessage::Close(frame) => {
                Err(TestError::Closed(frame.map_or(1005, |f| u16::from(f.code))))
            }
            other => Err(TestError::Unexpected {
                expected: "a binary frame",
                got: format!("{other:?}"),
            }),
        }
    }

    /// Waits for the server to close, completes the closing handshake, and returns the close code.
    pub async fn receive_close(&mut self) -> Result<u16, TestError> {
        let code = match self.receive().await? {
            WsMessage::Close(frame) => frame.map_or(1005, |f| u16::from(f.code)),
            other => {
                return Err(TestError::Unexpected {
                    expected: "a close frame",
                    got: format!("{other:?}"),
                });
            }
        };
        // Reading on sends our close reply, so the server sees a clean close at once.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Self::TIMEOUT, self.socket.next()).await {}
        Ok(code)
    }

    /// Closes with code 1000 and waits for the server's reply.
    pub async fn disconnect(mut self) -> Result<(), TestError> {
        self.socket.close(None).await?;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Self::TIMEOUT, self.socket.next()).await {}
        Ok(())
    }

    /// The underlying client socket, for anything else (raw frames, pings).
    pub fn socket(&mut self) -> &mut WebSocketStream<MaybeTlsStream<TcpStream>> {
        &mut self.socket
    }
}
