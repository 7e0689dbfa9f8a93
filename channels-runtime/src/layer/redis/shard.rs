//! One Redis of the layer: a command connection kept up by a supervisor task, and the deadline rule
//! every operation follows.
//!
//! The supervisor connects (with back-off and jitter, 50 ms doubling to 2 s), measures the offset
//! between our clock and Redis's (`TIME`, halfway through the round trip) and reads the server's
//! `run_id`, then publishes the connection. It pings every second and replaces the connection when a
//! ping or a command reports it broken. Operations wait for a published connection until their
//! deadline, so a send during an outage waits for the reconnect instead of failing at once.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::MultiplexedConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, RedisError, RedisResult, RetryMethod};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::RedisHost;
use super::stats::Counters;
use crate::layer::LayerError;

/// How long a connection attempt (TCP, then `TIME` and `INFO`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle connection is checked.
const PING_EVERY: Duration = Duration::from_secs(1);
/// How long a ping may take before the connection is taken as broken.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How long past an operation's deadline its reply is still awaited. Redis refuses work that reaches it
/// after the deadline (by its own clock, offset measured at connect), so a reply that has not come by
/// then means the work was not done; this margin covers the offset's error (half a round trip).
pub(super) const GRACE: Duration = Duration::from_secs(1);

/// Microseconds since the Unix epoch by our clock.
pub(super) fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Why an operation gave up waiting for Redis: the source of [`LayerError::Unavailable`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLayerError {
    /// No connection to this Redis came up before the operation's deadline (`send_timeout`).
    #[error("no connection to Redis host {host} within {waited:?}")]
    NotConnected {
        /// Index of the host in `hosts`.
        host: usize,
        /// How long the operation waited.
        waited: Duration,
    },
    /// Redis did not answer before the deadline; it will refuse the work if it gets to it later.
    #[error("Redis host {host} did not answer within {waited:?}")]
    NoAnswer {
        /// Index of the host in `hosts`.
        host: usize,
        /// How long the operation waited.
        waited: Duration,
    },
    /// Redis got the work after its deadline and refused it: nothing was done.
    #[error("Redis host {host} refused work that reached it after its deadline")]
    Late {
        /// Index of the host in `hosts`.
        host: usize,
    },
    /// The connection broke while the work was on its way, and no new connection could confirm it
    /// before the deadline: Redis may have done it (a network cut after Redis ran it) or not. The one
    /// failure after which a retry may duplicate.
    #[error("the connection to Redis host {host} broke during the work; it may have been done")]
    OutcomeUnknown {
        /// Index of the host in `hosts`.
        host: usize,
    },
}

/// A live connection and what was measured when it was made.
#[derive(Clone)]
pub(super) struct Conn {
    pub(super) con: MultiplexedConnection,
    generation: u64,
    /// Redis's clock minus ours, in microseconds.
    offset_micros: i64,
}

impl Conn {
    /// `deadline` as a time on Redis's clock, in microseconds since the epoch (what the scripts compare
    /// with `TIME`).
    pub(super) fn server_deadline(&self, deadline: Instant) -> i64 {
        let left = deadline.saturating_duration_since(Instant::now());
        unix_micros()
            .saturating_add(i64::try_from(left.as_micros()).unwrap_or(i64::MAX))
            .saturating_add(self.offset_micros)
    }
}

#[derive(Clone)]
enum Link {
    Down,
    Up(Conn),
}

/// How to get a client for a host: directly, or by asking Sentinel for the current master.
pub(super) enum Connector {
    Direct(redis::Client),
    Sentinel(Box<tokio::sync::Mutex<SentinelClient>>),
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connector::Direct(client) => write!(f, "Direct({:?})", client.get_connection_info()),
            Connector::Sentinel(_) => f.write_str("Sentinel"),
        }
    }
}

impl Connector {
    pub(super) fn new(host: &RedisHost) -> RedisResult<Self> {
        match host {
            RedisHost::Url(url) => Ok(Connector::Direct(redis::Client::open(url.as_str())?)),
            RedisHost::Sentinel {
                sentinels,
                master_name,
                db,
                password,
            } => {
                let mut info = redis::RedisConnectionInfo::default().set_db(*db);
                if let Some(password) = password {
                    info = info.set_password(password);
                }
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
                let client = SentinelClient::build(
                    sentinels.iter().map(String::as_str).collect(),
                    master_name.clone(),
                    Some(node),
                    SentinelServerType::Master,
                )?;
                Ok(Connector::Sentinel(Box::new(tokio::sync::Mutex::new(
                    client,
                ))))
            }
        }
    }

    /// A new connection whose replies are awaited as long as it takes (timeouts are ours).
    pub(super) async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let client = match self {
            Connector::Direct(client) => client.clone(),
            Connector::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await?,
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
}

/// What a failed command says about its connection.
pub(super) enum Failure {
    /// The connection is unusable: replace it (then the work may be retried).
    Broken,
    /// Redis is busy (loading, failing over): retry shortly on the same connection.
    Transient,
    /// A real error (a script bug, a wrong type): retrying won't help.
    Fatal,
}

pub(super) fn classify(error: &RedisError) -> Failure {
    if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() {
        return Failure::Broken;
    }
    match error.retry_method() {
        RetryMethod::Reconnect
        | RetryMethod::ReconnectFromInitialConnections
        | RetryMethod::RefreshSlotsAndRetry => Failure::Broken,
        RetryMethod::RetryImmediately | RetryMethod::WaitAndRetry => Failure::Transient,
        _ => Failure::Fatal,
    }
}

/// Exponential back-off with jitter, so that many processes don't reconnect in step.
pub(super) struct Backoff(Duration);

impl Backoff {
    pub(super) fn new() -> Self {
        Backoff(Duration::from_millis(50))
    }

    pub(super) async fn wait(&mut self) {
        let jitter = rand::random_range(0.8..1.2);
        tokio::time::sleep(self.0.mul_f64(jitter)).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
    }

    pub(super) fn reset(&mut self) {
        *self = Backoff::new();
    }
}

/// A connection (re)established by a supervisor: `restarted` when Redis is not the one we knew (its
/// `run_id` changed), so its data, memberships included, may be gone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reconnected {
    pub(super) host: usize,
    pub(super) restarted: bool,
}

/// One host: its current connection, and the supervisor that keeps it.
#[derive(Debug)]
pub(super) struct Shard {
    host: usize,
    link: watch::Receiver<LinkDebug>,
    trouble: mpsc::UnboundedSender<u64>,
    pub(super) connector: Arc<Connector>,
}

/// `Link` behind a `Debug` impl that doesn't print connections.
#[derive(Clone)]
struct LinkDebug(Link);

impl std::fmt::Debug for LinkDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Link::Down => f.write_str("Down"),
            Link::Up(conn) => write!(f, "Up(generation {})", conn.generation),
        }
    }
}

impl Shard {
    /// The shard of host `host`, and its supervisor (to spawn). Reconnections are reported on `events`.
    pub(super) fn new(
        host: usize,
        connector: Connector,
        counters: Arc<Counters>,
        events: mpsc::UnboundedSender<Reconnected>,
    ) -> (Shard, impl Future<Output = ()> + Send + 'static) {
        let (link_tx, link) = watch::channel(LinkDebug(Link::Down));
        let (trouble, trouble_rx) = mpsc::unbounded_channel();
        let connector = Arc::new(connector);
        let supervisor = supervise(
            host,
            connector.clone(),
            link_tx,
            trouble_rx,
            counters,
            events,
        );
        let shard = Shard {
            host,
            link,
            trouble,
            connector,
        };
        (shard, supervisor)
    }

    /// The current connection, waiting for one until `deadline`; `not` skips a generation known to be
    /// broken.
    async fn conn(&self, deadline: Instant, not: Option<u64>) -> Option<Conn> {
        let mut link = self.link.clone();
        loop {
            if let Link::Up(conn) = &link.borrow_and_update().0
                && Some(conn.generation) != not
            {
                return Some(conn.clone());
            }
            match tokio::time::timeout_at(deadline, link.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Waits until the first connection is up, or `deadline`.
    pub(super) async fn ready(&self, deadline: Instant) -> bool {
        self.conn(deadline, None).await.is_some()
    }

    /// Runs `op` on the connection, following the deadline rule: wait for a connection until
    /// `deadline`, await the reply until `deadline + GRACE`, and on a broken connection try again on
    /// the next one while time is left. `op` must be safe to repeat (every script of this layer is: a
    /// repeat finds its message already there). `op` gets the connection and the deadline on Redis's
    /// clock.
    pub(super) async fn run<T, F, Fut>(
        &self,
        what: &'static str,
        deadline: Instant,
        mut op: F,
    ) -> Result<T, LayerError>
    where
        F: FnMut(MultiplexedConnection, i64) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let started = Instant::now();
        let mut skip = None;
        // Whether an attempt was cut off by a broken connection (and so may have been done).
        let mut maybe_done = false;
        loop {
            let Some(conn) = self.conn(deadline, skip).await else {
                let waited = started.elapsed();
                let host = self.host;
                let error = if maybe_done {
                    RedisLayerError::OutcomeUnknown { host }
                } else {
                    RedisLayerError::NotConnected { host, waited }
                };
                return Err(LayerError::unavailable(what, error));
            };
            let reply = tokio::time::timeout_at(
                deadline + GRACE,
                op(conn.con.clone(), conn.server_deadline(deadline)),
            )
            .await;
            let error = match reply {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => {
                    // Stalled: replace the connection; Redis refuses the work if it gets to it now.
                    let _ = self.trouble.send(conn.generation);
                    let waited = started.elapsed();
                    return Err(LayerError::unavailable(
                        what,
                        RedisLayerError::NoAnswer {
                            host: self.host,
                            waited,
                        },
                    ));
                }
            };
            let retry = match classify(&error) {
                Failure::Broken => {
                    let _ = self.trouble.send(conn.generation);
                    skip = Some(conn.generation);
                    maybe_done = true;
                    true
                }
                Failure::Transient => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    true
                }
                Failure::Fatal => false,
            };
            if !retry || Instant::now() >= deadline {
                if maybe_done {
                    let host = self.host;
                    tracing::debug!(host, %error, what, "giving up after a broken connection");
                    return Err(LayerError::unavailable(
                        what,
                        RedisLayerError::OutcomeUnknown { host },
                    ));
                }
                return Err(LayerError::unavailable(what, error));
            }
            tracing::debug!(host = self.host, %error, what, "Redis command failed; retrying");
        }
    }

    /// The error for work that Redis refused because it came after the deadline.
    pub(super) fn late(&self, what: &'static str) -> LayerError {
        LayerError::unavailable(what, RedisLayerError::Late { host: self.host })
    }
}

/// Connects, measures, publishes; replaces the connection when it breaks. Ends when the shard is gone.
async fn supervise(
    host: usize,
    connector: Arc<Connector>,
    link: watch::Sender<LinkDebug>,
    mut trouble: mpsc::UnboundedReceiver<u64>,
    counters: Arc<Counters>,
    events: mpsc::UnboundedSender<Reconnected>,
) {
    let mut backoff = Backoff::new();
    let mut generation = 0u64;
    let mut run_id: Option<String> = None;
    let mut failures = 0u32;
    loop {
        if link.is_closed() {
            return;
        }
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT * 2, open(&connector)).await;
        let (con, offset_micros, id) = match attempt {
            Ok(Ok(opened)) => opened,
            Ok(Err(error)) => {
                failures += 1;
                log_failure(host, failures, &error);
                backoff.wait().await;
                continue;
            }
            Err(_) => {
                failures += 1;
                log_failure(host, failures, &"connection attempt timed out");
                backoff.wait().await;
                continue;
            }
        };
        generation += 1;
        let restarted = run_id.as_ref().is_some_and(|known| *known != id);
        if generation > 1 {
            counters.reconnected(restarted);
            tracing::warn!(
                host,
                restarted,
                "Redis connection re-established{}",
                if restarted {
                    " to a restarted server: messages it held were lost; restoring memberships"
                } else {
                    ""
                }
            );
            let _ = events.send(Reconnected { host, restarted });
        }
        run_id = Some(id);
        failures = 0;
        backoff.reset();
        let mut ping = con.clone();
        let _ = link.send(LinkDebug(Link::Up(Conn {
            con,
            generation,
            offset_micros,
        })));
        // Watch the connection until someone reports it broken or a ping fails.
        loop {
            tokio::select! {
                reported = trouble.recv() => match reported {
                    Some(g) if g == generation => break,
                    Some(_) => {}
                    None => return,
                },
                () = tokio::time::sleep(PING_EVERY) => {
                    let pong = tokio::time::timeout(
                        PING_TIMEOUT,
                        redis::cmd("PING").query_async::<()>(&mut ping),
                    )
                    .await;
                    if !matches!(pong, Ok(Ok(()))) {
                        break;
                    }
                }
            }
            if link.is_closed() {
                return;
            }
        }
        let _ = link.send(LinkDebug(Link::Down));
        tracing::warn!(host, "Redis connection lost; reconnecting");
    }
}

fn log_failure(host: usize, failures: u32, error: &dyn std::fmt::Display) {
    // The first failure of an outage is worth a warning; the retries every two seconds are not.
    if failures == 1 {
        tracing::warn!(host, %error, "cannot connect to Redis; retrying with back-off");
    } else {
        tracing::debug!(host, %error, failures, "cannot connect to Redis yet");
    }
}

/// A new connection, Redis's clock offset, and its `run_id`.
async fn open(connector: &Connector) -> RedisResult<(MultiplexedConnection, i64, String)> {
    let mut con = connector.connect().await?;
    let before = unix_micros();
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut con).await?;
    let after = unix_micros();
    let server = secs.saturating_mul(1_000_000).saturating_add(micros);
    let offset = server - (before + (after - before) / 2);
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await?;
    let run_id = info
        .lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok((con, offset, run_id))
}
