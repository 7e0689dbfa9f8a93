//! [`ServerConfig`]: the server's limits, with Daphne's defaults where Daphne has one.

use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::layer::queue::{Budget, OverBudget};

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
    /// tungstenite's write buffer, for the frames it writes itself (pongs, the close frame). Default 8 KiB.
    /// Data frames don't go through it: a small one (up to 1 KiB) is copied into the connection's own
    /// buffer, a larger one is written from the message's bytes, shared by every member of a group (see
    /// [`outbound_budget`](Self#structfield.outbound_budget)).
    pub write_buffer_size: usize,
    /// Bytes a connection may hold for its client: what consumers and groups sent to it and the socket has
    /// not taken yet (each message's payload plus 64 bytes; a typed event 320). Default 1 MiB. A client
    /// that reads on average as fast as it is sent to loses nothing: bursts are absorbed up to here. Past
    /// it the client is slow, and [`slow_client`](Self#structfield.slow_client) says what happens. The
    /// payload of a group message is stored once and shared by every member, but it counts against
    /// each member's budget, so a server holds at most this much per connection whatever its clients do.
    /// A consumer's own sends to its reply channel are never refused: past half the budget they wait for
    /// room (backpressure), leaving the other half to group messages. One message larger than the budget
    /// is taken only by a connection that holds nothing else at that moment: keep the budget above the
    /// largest message you broadcast.
    pub outbound_budget: usize,
    /// How long a write may wait for the client to take what it has been given (at most a batch of 65
    /// messages) before the client counts as slow and is closed with 1013, whatever the policy: a peer
    /// that takes nothing for this long is gone or stuck. Default 10 s.
    pub write_timeout: Duration,
    /// What happens to a client past its [`outbound_budget`](Self#structfield.outbound_budget). Default
    /// [`SlowClientPolicy::Close`].
    pub slow_client: SlowClientPolicy,
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
            outbound_budget: 1 << 20,
            write_timeout: Duration::from_secs(10),
            slow_client: SlowClientPolicy::Close,
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

    /// Sets [`outbound_budget`](Self#structfield.outbound_budget), in bytes.
    pub fn outbound_budget(mut self, bytes: usize) -> Self {
        self.outbound_budget = bytes;
        self
    }

    /// Sets [`write_timeout`](Self#structfield.write_timeout).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`slow_client`](Self#structfield.slow_client).
    pub fn slow_client(mut self, policy: SlowClientPolicy) -> Self {
        self.slow_client = policy;
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

    /// The byte budget of this server's reply channels.
    pub(crate) fn budget(&self) -> Budget {
        let over = match self.slow_client {
            SlowClientPolicy::Close => OverBudget::Close,
            SlowClientPolicy::Drop => OverBudget::Drop,
        };
        Budget::new(self.outbound_budget, over)
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

/// What happens to a slow client: one past its [`ServerConfig::outbound_budget`].
///
/// ```
/// use channels_runtime::ServerConfig;
/// use channels_runtime::server::SlowClientPolicy;
/// // Channels' `group_send` behaviour: a member that can't keep up misses messages, and stays.
/// let config = ServerConfig::default().slow_client(SlowClientPolicy::Drop);
/// assert_eq!(config.slow_client, SlowClientPolicy::Drop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SlowClientPolicy {
    /// Close the connection with **1013** ("try again later": the server is casting off a client it
    /// can't serve right now; the client should reconnect, after a back-off, and resynchronise) and the
    /// reason `slow client: outbound budget exceeded`. What the connection held is freed at once, its
    /// groups are left, its disconnect consumer runs (with code 1013), a warning names its reply
    /// channel, and
    /// [`SlowClientStats::closed_over_budget`](super::SlowClientStats) counts it. The client never sees a
    /// gap: it gets every message up to some point, then the close. Senders see nothing (a direct
    /// `send` to the reply channel fails with `ChannelClosed`, as to any closed connection). The default.
    #[default]
    Close,
    /// Drop, for that member only, each message that does not fit (Channels' `group_send`: at-most-once
    /// delivery), and keep the connection. Counted in
    /// [`SlowClientStats::dropped`](super::SlowClientStats) and the layer's `dropped()`, logged at debug
    /// level; a direct `send` to the reply channel fails with `ChannelFull`.
    Drop,
}
