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
/// Start from [`ServerConfig::default()`] and change what you need with the setters of the same names
/// as the fields (the struct is `#[non_exhaustive]`, so new limits can be added without breaking you):
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::ServerConfig;
///
/// let config = ServerConfig::default()
///     .max_message_size(4 << 20)
///     .connect_timeout(Duration::from_secs(10));
/// assert_eq!(config.max_message_size, 4 << 20);
/// assert_eq!(config.max_frame_size, 1 << 20);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// Sets [`max_message_size`](Self#structfield.max_message_size), in bytes.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_frame_size`](Self#structfield.max_frame_size), in bytes.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`read_buffer_size`](Self#structfield.read_buffer_size), in bytes.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// Sets [`write_buffer_size`](Self#structfield.write_buffer_size), in bytes.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// Sets [`connect_timeout`](Self#structfield.connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`http_timeout`](Self#structfield.http_timeout).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets [`close_timeout`](Self#structfield.close_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`max_pending_events`](Self#structfield.max_pending_events).
    pub fn max_pending_events(mut self, events: usize) -> Self {
        self.max_pending_events = events;
        self
    }

    /// Sets [`run_workers`](Self#structfield.run_workers).
    pub fn run_workers(mut self, run: bool) -> Self {
        self.run_workers = run;
        self
    }

    /// tungstenite's configuration for these limits.
    pub(crate) fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
    }
}
