//! [`ServerConfig`]: the server's limits, with Daphne's defaults where Daphne has one.

use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::layer::queue::{Budget, OverBudget};

use super::origin::OriginPattern;
use super::proxy::TrustedProxy;

/// Limits and buffer sizes of a [`Server`](super::Server).
///
/// The defaults follow Daphne for what a peer can send (1 MiB per message and per frame, larger ones close
/// with 1009) and are sized for many mostly idle connections rather than for raw throughput: tungstenite's
/// own defaults (128 KiB read buffer, 64 MiB messages) cost about 138 KB per connection; these cost about
/// 3.3 KB.
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
    /// tungstenite's read buffer, which every connection keeps for its whole life, in bytes. Default 256.
    /// It is not what a read from the socket takes: the server reads up to 64 KiB at a time into a
    /// buffer of its thread's, shared by all the connections the thread serves, and hands tungstenite
    /// this much at a time from it, so a small buffer costs no extra system calls. It costs a little
    /// CPU on large messages (tungstenite takes them `read_buffer_size` bytes at a time, from memory) and
    /// saves memory on every connection: about 3.3 KB per idle connection with the default, about 0.8 KB
    /// more with 1 KiB, 138 KB with tungstenite's defaults (see BENCHMARKS.md). Messages up to `max_message_size`
    /// work whatever it is; raise it for services that mostly move messages of many KiB.
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
    /// Browser origins allowed to open WebSockets besides the server's own host. Default empty: a
    /// handshake whose `Origin` is not the host it was sent to (same host name and port; see
    /// [`server::origin`](super::origin) for the exact rule) gets **403** before any consumer runs, as
    /// behind Channels' `AllowedHostsOriginValidator`; one without `Origin` (not a browser) passes. Add
    /// entries with [`allowed_origin`](Self::allowed_origin) (`https://app.example.com`,
    /// `https://*.example.com`, ...), or every origin with [`allow_any_origin`](Self::allow_any_origin).
    pub allowed_origins: Vec<OriginPattern>,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Real-IP` / `X-Forwarded-Proto` headers are believed:
    /// for a request from one of them, the scope's `client` and `scheme` come from those headers (see
    /// [`server::proxy`](super::proxy) for the rule). Default empty: the headers are ignored and the
    /// client is the TCP peer. Add entries with [`trusted_proxy`](Self::trusted_proxy).
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Incoming frames buffered per connection while a consumer runs, before reading pauses. Default 16.
    pub max_pending_events: usize,
    /// Run worker consumers for the custom channels of the routing inside the server. Default `true`.
    pub run_workers: bool,
    /// How long a WebSocket may go without a frame from its peer before the server sends a ping. Default
    /// 20 s (Daphne's `--ping-interval`); `None` sends none. A peer that vanishes without a FIN (a phone
    /// that lost its network, a NAT that forgot the flow) is otherwise held forever, and proxies close
    /// connections they see idle: the ping finds the first and keeps the second open.
    ///
    /// Browsers answer pings by themselves; a [`WebsocketCommunicator`](crate::testing::WebsocketCommunicator)
    /// answers them only while the test reads from it. A test that lets time run (tokio's paused clock
    /// included) past `ping_interval + ping_timeout` without reading loses its connection: set
    /// `ping_interval(None)` in its config.
    pub ping_interval: Option<Duration>,
    /// How long after a ping the peer has to send something (its pong, or any frame) before it is taken
    /// for gone: the TCP connection is dropped without a closing handshake (nobody would answer it) and
    /// the disconnect consumer runs with code **1006**, its groups left. Default 30 s (Daphne's
    /// `--ping-timeout`). While the server itself has paused reading (a consumer is behind), the peer is
    /// not held to it.
    pub ping_timeout: Duration,
    /// How long a client has, from opening TCP (or from the previous response on a kept-alive
    /// connection), to send a complete request head; and the grace before
    /// [`min_body_rate`](Self#structfield.min_body_rate) applies to a request body. Past it the connection
    /// is dropped (a body too slow gets **408**). Default 10 s. Without it a client that opens sockets and
    /// sends nothing, or a head at a byte a second, holds a file descriptor each forever (hyper's own
    /// 30 s header timeout needs a timer, which this server gives it). Daphne has no setting of its own
    /// for this (its `--http-timeout` bounds only the application's answer).
    pub handshake_timeout: Duration,
    /// The slowest a request body may arrive, in bytes per second, once
    /// [`handshake_timeout`](Self#structfield.handshake_timeout) has passed: a body of `n` bytes has
    /// `handshake_timeout + n / min_body_rate` to arrive, else the client gets **408** and the connection
    /// is closed. Default 4 KiB/s (a 1 MiB body, the largest allowed by default, then has 4 min 26 s).
    pub min_body_rate: u64,
    /// Largest request head (request line and headers) accepted, in bytes; larger ones get **431** and
    /// the connection is closed. Default 16 KiB (what Daphne's Twisted accepts: its `totalHeadersSize`
    /// is 16,384 bytes; hyper's own default is about 400 KiB). A WebSocket's scope keeps its request's headers for the
    /// life of the connection (consumers read them), so this is also the most header memory one
    /// connection can hold. hyper reads at least 8 KiB at a time, so values below 8 KiB are checked once
    /// the head is complete.
    pub max_header_bytes: usize,
    /// Most WebSocket connections open at once (counting handshakes in progress). Past it, a handshake
    /// gets **503** before any consumer runs; plain HTTP requests are still served. Default `None`: no
    /// cap but the process's file descriptor limit (Daphne has none either); set one to keep a server
    /// within its memory (about 3.3 KB per idle connection, plus what its consumers hold).
    pub max_connections: Option<usize>,
    /// Longest a WebSocket may stay open; then the server closes it with **1001** (going away, reason
    /// `connection lifetime reached`) and its disconnect consumer runs with that code. Default `None`
    /// (off), as Daphne's `--websocket_timeout` defaults to no limit (it is 86400 s in its examples). Set
    /// it to make clients reconnect now and then: to rebalance them across servers, or to re-check the
    /// credentials they connected with.
    pub max_lifetime: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            read_buffer_size: 256,
            write_buffer_size: 8 << 10,
            outbound_budget: 1 << 20,
            write_timeout: Duration::from_secs(10),
            slow_client: SlowClientPolicy::Close,
            connect_timeout: Duration::from_secs(5),
            http_timeout: Duration::from_secs(120),
            close_timeout: Duration::from_secs(5),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            max_pending_events: 16,
            run_workers: true,
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            min_body_rate: 4 << 10,
            max_header_bytes: 16 << 10,
            max_connections: None,
            max_lifetime: None,
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

    /// Adds an origin (or a pattern of origins) to
    /// [`allowed_origins`](Self#structfield.allowed_origins).
    ///
    /// ```
    /// use channels_runtime::ServerConfig;
    /// # fn main() -> Result<(), channels_runtime::server::OriginError> {
    /// let config = ServerConfig::default()
    ///     .allowed_origin("https://app.example.com".parse()?)
    ///     .allowed_origin("https://*.example.com".parse()?);
    /// # assert_eq!(config.allowed_origins.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn allowed_origin(mut self, origin: OriginPattern) -> Self {
        self.allowed_origins.push(origin);
        self
    }

    /// Lets every origin open WebSockets (adds [`OriginPattern::any`], `*`): for servers whose sockets
    /// carry no user's authority, or that authenticate otherwise (a token in the first message).
    pub fn allow_any_origin(self) -> Self {
        self.allowed_origin(OriginPattern::any())
    }

    /// Adds a proxy (an address or a network) to [`trusted_proxies`](Self#structfield.trusted_proxies).
    ///
    /// ```
    /// use channels_runtime::ServerConfig;
    /// # fn main() -> Result<(), channels_runtime::server::ProxyError> {
    /// let config = ServerConfig::default().trusted_proxy("10.0.0.0/8".parse()?);
    /// # assert_eq!(config.trusted_proxies.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn trusted_proxy(mut self, proxy: TrustedProxy) -> Self {
        self.trusted_proxies.push(proxy);
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

    /// Sets [`ping_interval`](Self#structfield.ping_interval): a [`Duration`], or `None` for no pings.
    ///
    /// ```
    /// use std::time::Duration;
    /// use channels_runtime::ServerConfig;
    /// let config = ServerConfig::default().ping_interval(Duration::from_secs(5));
    /// assert_eq!(config.ping_interval, Some(Duration::from_secs(5)));
    /// assert_eq!(ServerConfig::default().ping_interval(None).ping_interval, None);
    /// ```
    pub fn ping_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.ping_interval = interval.into();
        self
    }

    /// Sets [`ping_timeout`](Self#structfield.ping_timeout).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// Sets [`handshake_timeout`](Self#structfield.handshake_timeout).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`min_body_rate`](Self#structfield.min_body_rate), in bytes per second (0 is taken as 1).
    pub fn min_body_rate(mut self, bytes_per_second: u64) -> Self {
        self.min_body_rate = bytes_per_second.max(1);
        self
    }

    /// Sets [`max_header_bytes`](Self#structfield.max_header_bytes).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets [`max_connections`](Self#structfield.max_connections): a number, or `None` for no cap.
    ///
    /// ```
    /// use channels_runtime::ServerConfig;
    /// let config = ServerConfig::default().max_connections(10_000);
    /// assert_eq!(config.max_connections, Some(10_000));
    /// ```
    pub fn max_connections(mut self, connections: impl Into<Option<usize>>) -> Self {
        self.max_connections = connections.into();
        self
    }

    /// Sets [`max_lifetime`](Self#structfield.max_lifetime): a [`Duration`], or `None` for no limit.
    pub fn max_lifetime(mut self, lifetime: impl Into<Option<Duration>>) -> Self {
        self.max_lifetime = lifetime.into();
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
