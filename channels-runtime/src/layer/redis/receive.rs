//! Reading from Redis: the loop that serves this process's reply channels, and the pullers behind
//! `receive` on normal channels.
//!
//! Both block in `BZPOPMIN` for [`BLOCK`] on a connection of their own whose replies are awaited for
//! [`BLOCK`] + [`SLACK`]: a blocking read never outlives the client's timeout (the old layer's 1 s
//! `BLPOP` under a 500 ms response timeout lost messages after idle periods). Neither is ever cancelled
//! in the middle of a command; they stop only when the layer is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Notify;

use super::keys::{channel_key, inflight_key};
use super::scripts;
use super::shard::Backoff;
use super::state::Core;
use crate::layer::LayerMessage;
use crate::layer::local::lock;

/// How long one `BZPOPMIN` blocks (channels_redis's `brpop_timeout`).
const BLOCK: Duration = Duration::from_secs(5);
/// How much longer than `BLOCK` its reply is awaited before the connection is taken as stalled.
const SLACK: Duration = Duration::from_secs(5);
/// Messages taken per `ZPOPMIN` when a process key has more waiting.
const BATCH: usize = 64;
/// How long a popped message waits for the receiver that asked for it before going back to Redis.
const HAND_OVER: Duration = Duration::from_secs(1);

type Popped = (Vec<u8>, f64);

async fn bzpopmin(
    con: &mut MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<Option<Popped>> {
    let reply = tokio::time::timeout(
        BLOCK + SLACK,
        redis::cmd("BZPOPMIN")
            .arg(key)
            .arg(BLOCK.as_secs())
            .query_async::<Option<(String, Vec<u8>, f64)>>(con),
    )
    .await;
    match reply {
        Ok(reply) => Ok(reply?.map(|(_, member, score)| (member, score))),
        Err(_) => Err(stalled()),
    }
}

fn stalled() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer a blocking read in time",
    ))
}

/// A dedicated connection to `host`, retried with back-off; logs the first failure of a run.
async fn connect(
    core: &Core,
    host: usize,
    backoff: &mut Backoff,
    what: &str,
) -> MultiplexedConnection {
    let mut failures = 0u32;
    loop {
        match core.shards[host].connector.connect().await {
            Ok(con) => {
                if failures > 0 {
                    tracing::info!(host, what, "Redis reader reconnected");
                }
                backoff.reset();
                return con;
            }
            Err(error) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(host, what, %error, "Redis reader cannot connect; retrying");
                }
                backoff.wait().await;
            }
        }
    }
}

/// Serves one of this process's keys (`<prefix>specific.<client>!`) on one host: pops every message
/// and hands it to the local channels its `__asgi_channel__` names.
pub(super) async fn process_loop(core: Arc<Core>, host: usize, key: String) {
    let mut backoff = Backoff::new();
    loop {
        let mut con = connect(&core, host, &mut backoff, &key).await;
        loop {
            match bzpopmin(&mut con, &key).await {
                Ok(None) => {}
                Ok(Some((member, score))) => {
                    core.deliver_local(&member, score);
                    if let Err(error) = drain(&core, &mut con, &key).await {
                        tracing::warn!(host, key, %error, "Redis read failed; reconnecting");
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(host, key, %error, "Redis read failed; reconnecting");
                    break;
                }
            }
        }
        backoff.wait().await;
    }
}

/// Takes what else waits on `key`, oldest first, a batch per round trip.
async fn drain(core: &Core, con: &mut MultiplexedConnection, key: &str) -> redis::RedisResult<()> {
    loop {
        let batch = tokio::time::timeout(
            SLACK,
            redis::cmd("ZPOPMIN")
                .arg(key)
                .arg(BATCH)
                .query_async::<Vec<Popped>>(con),
        )
        .await
        .map_err(|_| stalled())??;
        let full = batch.len() >= BATCH;
        for (member, score) in batch {
            core.deliver_local(&member, score);
        }
        if !full {
            return Ok(());
        }
    }
}

/// Where a normal channel's pullers leave popped messages for `receive` callers of this process.
#[derive(Debug, Default)]
pub(super) struct Slot {
    items: Mutex<VecDeque<(u64, LayerMessage)>>,
    /// Receivers waiting now: pullers pop only while someone waits.
    waiting: AtomicUsize,
    demand: Notify,
    filled: Notify,
    taken: Notify,
}

/// Counts one waiting receiver for as long as it lives (also when its future is dropped).
struct Waiting<'a>(&'a Slot);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slot {
    /// The next message a puller hands over.
    ///
    /// # Cancel safety
    /// Cancel-safe: a message is taken only in the poll that returns it; one popped for a receiver
    /// that has gone waits for the next one, or goes back to Redis (see `pull`).
    pub(super) async fn take(&self) -> LayerMessage {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(self);
        self.demand.notify_waiters();
        loop {
            let filled = self.filled.notified();
            tokio::pin!(filled);
            filled.as_mut().enable();
            if let Some((_, message)) = lock(&self.items).pop_front() {
                self.taken.notify_waiters();
                return message;
            }
            filled.await;
        }
    }

    async fn wait_for_demand(&self) {
        loop {
            let demand = self.demand.notified();
            tokio::pin!(demand);
            demand.as_mut().enable();
            if self.waiting.load(Ordering::SeqCst) > 0 {
                return;
            }
            demand.await;
        }
    }

    fn put(&self, id: u64, message: LayerMessage) {
        lock(&self.items).push_back((id, message));
        self.filled.notify_waiters();
    }

    /// Waits until message `id` is taken (`true`), or takes it back (`false`) when no receiver came
    /// for it within [`HAND_OVER`].
    async fn handed_over(&self, id: u64) -> bool {
        loop {
            let taken = self.taken.notified();
            tokio::pin!(taken);
            taken.as_mut().enable();
            if !lock(&self.items).iter().any(|(i, _)| *i == id) {
                return true;
            }
            if tokio::time::timeout(HAND_OVER, taken).await.is_err()
                && self.waiting.load(Ordering::SeqCst) == 0
            {
                let mut items = lock(&self.items);
                if let Some(at) = items.iter().position(|(i, _)| *i == id) {
                    items.remove(at);
                    return false;
                }
                return true;
            }
        }
    }
}

/// Pops messages of the normal channel `channel` on `host` for this process's `receive` callers.
///
/// It pops only while a receiver waits, and hands the message straight over: no extra round trip. When
/// the receiver has gone by then (its `receive` was cancelled), the message is recorded in channels_redis's
/// `<key>$inflight` set (so that it survives this process dying: channels_redis readers put such
/// messages back), kept for [`HAND_OVER`] for the next receiver, and otherwise put back on the channel
/// at its old place.
pub(super) async fn pull(core: Arc<Core>, host: usize, channel: String, slot: Arc<Slot>) {
    let key = channel_key(&core.prefix, &channel);
    let inflight = inflight_key(&key);
    let mut backoff = Backoff::new();
    let mut next_id = 0u64;
    // A message popped and not yet delivered or put back, and whether it is recorded in flight.
    let mut held: Option<Held> = None;
    loop {
        slot.wait_for_demand().await;
        let mut con = connect(&core, host, &mut backoff, &key).await;
        loop {
            let mut popped = match held.take() {
                Some(popped) => popped,
                None => {
                    slot.wait_for_demand().await;
                    let (member, score) = match bzpopmin(&mut con, &key).await {
                        Ok(Some(popped)) => popped,
                        Ok(None) => continue,
                        Err(error) => {
                            tracing::warn!(host, key, %error, "Redis read failed; reconnecting");
                            break;
                        }
                    };
                    let Some(message) = core.decode_for_channel(&member, score) else {
                        continue;
                    };
                    Held {
                        member,
                        score,
                        message,
                        recorded: false,
                    }
                }
            };
            match hand_over(
                &core,
                &mut con,
                &slot,
                &key,
                &inflight,
                &mut next_id,
                &mut popped,
            )
            .await
            {
                Ok(()) => {}
                Err(error) => {
                    tracing::warn!(host, key, %error, "Redis read failed; reconnecting");
                    held = Some(popped);
                    break;
                }
            }
        }
        backoff.wait().await;
    }
}

/// A popped message on its way to a receiver.
struct Held {
    member: Vec<u8>,
    score: f64,
    message: LayerMessage,
    /// Whether it is recorded in `$inflight`.
    recorded: bool,
}

/// Delivers `popped` to a receiver of this process, or puts it back on the channel when none comes.
async fn hand_over(
    core: &Core,
    con: &mut MultiplexedConnection,
    slot: &Slot,
    key: &str,
    inflight: &str,
    next_id: &mut u64,
    popped: &mut Held,
) -> redis::RedisResult<()> {
    let expiry = core.expiry_secs();
    loop {
        if slot.waiting.load(Ordering::SeqCst) > 0 {
            if popped.recorded {
                if claim(con, key, inflight, popped, expiry, false).await? == 0 {
                    return Ok(()); // back on the channel: whoever reads it next gets it
                }
                popped.recorded = false;
            }
            *next_id += 1;
            slot.put(*next_id, popped.message.clone());
            if slot.handed_over(*next_id).await {
                return Ok(());
            }
        }
        if !popped.recorded {
            tokio::time::timeout(
                SLACK,
                redis::pipe()
                    .zadd(inflight, &popped.member, popped.score)
                    .ignore()
                    .expire(inflight, i64::try_from(expiry).unwrap_or(i64::MAX))
                    .ignore()
                    .query_async::<()>(con),
            )
            .await
            .map_err(|_| stalled())??;
            popped.recorded = true;
        }
        if tokio::time::timeout(HAND_OVER, slot.wait_for_demand())
            .await
            .is_err()
        {
            claim(con, key, inflight, popped, expiry, true).await?;
            return Ok(());
        }
    }
}

/// Runs [`scripts::CLAIM`] for `popped`.
async fn claim(
    con: &mut MultiplexedConnection,
    key: &str,
    inflight: &str,
    popped: &Held,
    expiry: u64,
    put_back: bool,
) -> redis::RedisResult<i64> {
    let mut invocation = scripts::CLAIM.prepare_invoke();
    invocation
        .key(key)
        .key(inflight)
        .arg(&popped.member)
        .arg(popped.score)
        .arg(expiry)
        .arg(u8::from(put_back));
    tokio::time::timeout(SLACK, invocation.invoke_async(con))
        .await
        .map_err(|_| stalled())?
}
