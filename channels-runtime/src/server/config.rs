//! [`ServerConfig`]: the server's limits, with Daphne's defaults where Daphne has one.

use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Limits and buffer sizes of a [`Server`](super::Server).
///
/// The defaults follow Daphne for what a peer can send (1 MiB per message and per frame, larger ones close
/// with 1009) and are sized for many mostly idle connections rather than for raw throughput: tungstenite's
/// own defaults (128 KiB read buffer, 64 MiB messages) cost about 138 KB per connection; these cost about
/// 5 KB.
///
/// ```
/// use channels_runtime::ServerConfig;
/// let config = ServerConfig { max_message_size: 4 << 20, ..ServerConfig::default() };
/// assert_eq!(config.max_frame_size, 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest WebSocket message (and HTTP request body) accepted, in bytes. Default 1 MiB.
    pub max_message_size: usize,
    /// Largest WebSocket frame accepted, in bytes. Default 1 MiB.
    pub max_frame_size: usize,
    /// Bytes read from the socket at a time. Default 1 KiB: the read buffer is the largest part of an idle
    /// connection's memory (about 5 KB in all with this default, against 138 KB with tungstenite's
    /// defaults; see BENCHMARKS.md). Messages up to `max_message_size` still work, in several reads; raise
    /// this for services that mostly move large messages.
    pub read_buffer_size: usize,
    /// Outgoing bytes buffered before a write to the socket. Default 8 KiB.
    pub write_buffer_size: usize,
    /// How long a connect consumer may take to accept or reject. Default 5 s (Daphne's
    /// `websocket_connect_timeout`); then the handshake is refused with 403.
    pub connect_timeout: Duration,
    /// How long an `http.request` consumer may take to respond before the client gets 503. Default 120 s
    /// (Daphne's `--http-timeout`).
    pub http_timeout: Duration,
    /// How long to wait for the peer's close frame after the server closed. Default 5 s.
    pub close_timeout: Duration,
    /// Incoming frames buffered per connection while a consumer runs, before reading pauses. Default 16.
    pub max_pending_events: usize,
    /// Run worker consumers for the custom channels of the routing inside the server. Default `true`.
    pub run_workers: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            read_buffer_size: 1 << 10,
            write_buffer_size: 8 << 10,
            connect_timeout: Duration::from_secs(5),
            http_timeout: Duration::from_secs(120),
            close_timeout: Duration::from_secs(5),
            max_pending_events: 16,
            run_workers: true,
        }
    }
}

impl ServerConfig {
    pub(crate) fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
    }
}
