//! The state the layer's tasks share, and the operations on it that the layer is made of.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::codec::{Channels, Codec, CodecError};
use super::config::Capacities;
use super::fanout::Fanout;
use super::groups::Memberships;
use super::keys::{consistent_hash, group_key, non_local_name};
use super::scripts;
use super::shard::{Reconnected, Shard, unix_micros};
use super::stats::Counters;
use crate::layer::{LayerConfig, LayerError, LayerMessage, LocalRegistry};

/// What the layer's tasks share.
#[derive(Debug)]
pub(super) struct Core {
    pub(super) prefix: String,
    /// channels_redis's `client_prefix`: what sits between a reply channel's prefix and its `!`.
    pub(super) client_prefix: String,
    pub(super) limits: LayerConfig,
    pub(super) capacities: Capacities,
    pub(super) send_timeout: Duration,
    pub(super) codec: Codec,
    pub(super) shards: Vec<Shard>,
    pub(super) local: LocalRegistry,
    pub(super) counters: Arc<Counters>,
    pub(super) memberships: Memberships,
    /// Group sends' local half: this process's members of each group, as last read from Redis.
    pub(super) fanout: Fanout,
    /// The last score given, in microseconds: scores only grow, so one sender's messages keep their order.
    pub(super) last_score: AtomicI64,
    /// The host the next send to a normal channel goes to (channels_redis's `_send_index_generator`).
    pub(super) next_host: AtomicUsize,
}

fn seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Core {
    pub(super) fn expiry_secs(&self) -> u64 {
        seconds_up(self.limits.expiry).max(1)
    }

    pub(super) fn group_expiry_secs(&self) -> u64 {
        seconds_up(self.limits.group_expiry).max(1)
    }

    /// A send time in seconds (channels_redis's `time.time()` score), never below the previous one.
    pub(super) fn next_score(&self) -> f64 {
        let now = unix_micros();
        let mut previous = self.last_score.load(Ordering::Relaxed);
        loop {
            let next = now.max(previous + 1);
            match self.last_score.compare_exchange_weak(
                previous,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next as f64 / 1e6,
                Err(actual) => previous = actual,
            }
        }
    }

    /// `time.time() - age`: the score at or below which messages (or members) are expired.
    /// channels_redis rounds now down to whole seconds; we don't, so an expiry takes effect on time.
    pub(super) fn cutoff(age: Duration) -> f64 {
        unix_micros() as f64 / 1e6 - age.as_secs_f64()
    }

    pub(super) fn is_expired(&self, score: f64) -> bool {
        let age = unix_micros() as f64 / 1e6 - score;
        age >= self.limits.expiry.as_secs_f64()
    }

    pub(super) fn is_ours(&self, channel: &str) -> bool {
        channel.contains('!')
            && non_local_name(channel)
                .strip_suffix('!')
                .is_some_and(|name| name.ends_with(&self.client_prefix))
    }

    /// Group messages dropped for full members: those bound for other processes (counted here) and
    /// those for this process's members (counted by the registry that delivers them).
    pub(super) fn dropped(&self) -> u64 {
        self.counters.dropped_count() + self.local.dropped()
    }

    pub(super) fn host_of(&self, name: &str) -> usize {
        consistent_hash(name, self.shards.len())
    }

    /// Hands a message popped from one of this process's keys to the local channels it names.
    pub(super) fn deliver_local(&self, member: &[u8], score: f64) {
        if self.is_expired(score) {
            self.counters.expired();
            tracing::debug!("expired message not delivered");
            return;
        }
        let decoded = match self.codec.decode(member, true) {
            Ok(decoded) => decoded,
            Err(error) => {
                self.note_undecodable(&error);
                return;
            }
        };
        let Channels::Named(names) = decoded.channels else {
            tracing::warn!("message without __asgi_channel__ on a process key dropped");
            return;
        };
        // A group message whose list of channels came before, all this process's: a registry group
        // of exactly those channels delivers it, as in memory.
        if names.len() > 1
            && let Some(closed) = self.fanout.deliver_named(
                &self.local,
                &names,
                &decoded.messages,
                self.limits.group_expiry / 2,
                |name| self.is_ours(name),
            )
        {
            for _ in 0..closed * decoded.messages.len() {
                self.counters.undeliverable();
            }
            return;
        }
        for name in &names {
            if !self.is_ours(name) {
                self.counters.undeliverable();
                tracing::debug!(
                    channel = name,
                    "message for another process's channel dropped"
                );
                continue;
            }
            for message in &decoded.messages {
                self.push_local(name, message.clone());
            }
        }
    }

    /// Pushes to one of this process's channels; returns `false` if it has closed.
    pub(super) fn push_local(&self, channel: &str, message: LayerMessage) -> bool {
        match self.local.send(channel, message) {
            Ok(()) => true,
            Err(LayerError::ChannelFull) => {
                self.counters.dropped(1);
                tracing::debug!(channel, "message dropped: the channel is full");
                true
            }
            Err(_) => {
                self.counters.undeliverable();
                tracing::debug!(channel, "message for a closed channel dropped");
                false
            }
        }
    }

    /// Removes this process's closed channels from `group` (best effort: they would expire anyway).
    pub(super) async fn forget_closed(&self, group: &str, closed: &[Arc<str>]) {
        let key = group_key(&self.prefix, group);
        let mut pipe = redis::pipe();
        for channel in closed {
            pipe.zrem(&key, &**channel).ignore();
            self.memberships.discard(group, channel);
        }
        let forgotten = self.shards[self.host_of(group)]
            .run("forget closed members", self.deadline(), |mut con, _| {
                let pipe = pipe.clone();
                async move { pipe.query_async::<()>(&mut con).await }
            })
            .await;
        if let Err(error) = forgotten {
            tracing::debug!(group, %error, "closed members not removed; they will expire");
        }
    }

    /// Decodes a message popped from a normal channel, or `None` (expired, undecodable: logged).
    pub(super) fn decode_for_channel(&self, member: &[u8], score: f64) -> Option<LayerMessage> {
        if self.is_expired(score) {
            self.counters.expired();
            tracing::debug!("expired message not delivered");
            return None;
        }
        match self.codec.decode(member, false) {
            Ok(decoded) => decoded.messages.into_iter().next(),
            Err(error) => {
                self.note_undecodable(&error);
                None
            }
        }
    }

    /// Logs (and, for one no key opens, counts) a message read from Redis that is dropped.
    fn note_undecodable(&self, error: &CodecError) {
        if matches!(error, CodecError::Decrypt) {
            self.counters.undecryptable();
        }
        tracing::warn!(%error, "undecodable message dropped");
    }

    pub(super) fn failed(&self, error: LayerError) -> LayerError {
        self.counters.failed();
        tracing::warn!(error = %error, cause = ?std::error::Error::source(&error).map(ToString::to_string), "channel layer operation failed");
        error
    }

    pub(super) fn deadline(&self) -> Instant {
        Instant::now() + self.send_timeout
    }

    /// Queues one framed message on `key` (on host `host`).
    pub(super) async fn send_to_key(
        &self,
        host: usize,
        key: &str,
        member: &[u8],
        capacity: usize,
    ) -> Result<(), LayerError> {
        let score = self.next_score();
        let expiry = self.expiry_secs();
        let queued = self
            .run_script(host, "send to a channel", |deadline| {
                let mut invocation = scripts::SEND.prepare_invoke();
                invocation
                    .key(key)
                    .arg(deadline)
                    .arg(member)
                    .arg(score)
                    .arg(capacity)
                    .arg(expiry)
                    .arg(Core::cutoff(self.limits.expiry));
                invocation
            })
            .await?;
        if queued == 0 {
            Err(LayerError::ChannelFull)
        } else {
            Ok(())
        }
    }

    /// Runs one writing script on `host`, mapping its `LATE` answer to the error.
    pub(super) async fn run_script(
        &self,
        host: usize,
        what: &'static str,
        invocation: impl Fn(i64) -> redis::ScriptInvocation<'static>,
    ) -> Result<i64, LayerError> {
        let shard = &self.shards[host];
        let answer: i64 = shard
            .run(what, self.deadline(), |mut con, deadline| {
                let invocation = invocation(deadline);
                async move { invocation.invoke_async(&mut con).await }
            })
            .await
            .map_err(|e| self.failed(e))?;
        if answer == scripts::LATE {
            return Err(self.failed(shard.late(what)));
        }
        Ok(answer)
    }

    /// The members of `group`, after purging those older than the group expiry, as the msgpack list
    /// [`scripts::GROUP_MEMBERS`] returns (read with [`unpack_names`](super::fanout::unpack_names)).
    pub(super) async fn members(&self, group: &str) -> Result<Vec<u8>, LayerError> {
        let key = group_key(&self.prefix, group);
        let cutoff = Core::cutoff(self.limits.group_expiry);
        self.shards[self.host_of(group)]
            .run("read a group", self.deadline(), |mut con, _| {
                let mut invocation = scripts::GROUP_MEMBERS.prepare_invoke();
                invocation.key(&key).arg(cutoff);
                async move { invocation.invoke_async(&mut con).await }
            })
            .await
            .map_err(|e| self.failed(e))
    }

    /// Re-adds the memberships this process made in groups on `host` (after Redis came back empty).
    pub(super) async fn restore(&self, host: usize) -> Result<u64, LayerError> {
        let cutoff = Core::cutoff(self.limits.group_expiry);
        let groups = self.memberships.on_host(host, self.shards.len(), cutoff);
        if groups.is_empty() {
            return Ok(0);
        }
        let expiry = self.group_expiry_secs();
        let mut pipe = redis::pipe();
        let mut count = 0u64;
        for (group, members) in &groups {
            let key = group_key(&self.prefix, group);
            for (channel, joined) in members {
                pipe.zadd(&key, &**channel, *joined).ignore();
                count += 1;
            }
            pipe.expire(&key, i64::try_from(expiry).unwrap_or(i64::MAX))
                .ignore();
        }
        self.shards[host]
            .run("restore memberships", self.deadline(), |mut con, _| {
                let pipe = pipe.clone();
                async move { pipe.query_async::<()>(&mut con).await }
            })
            .await?;
        Ok(count)
    }
}

/// Re-declares memberships whenever a host comes back as a different (restarted, empty) server,
/// retrying until it works or the layer is gone.
pub(super) async fn restorer(core: Arc<Core>, mut events: mpsc::UnboundedReceiver<Reconnected>) {
    while let Some(event) = events.recv().await {
        if !event.restarted {
            continue;
        }
        let mut backoff = super::shard::Backoff::new();
        loop {
            match core.restore(event.host).await {
                Ok(n) => {
                    core.counters.restored(n);
                    tracing::info!(host = event.host, n, "group memberships restored");
                    break;
                }
                Err(error) => {
                    tracing::warn!(host = event.host, %error, "restoring memberships failed; retrying");
                    backoff.wait().await;
                }
            }
        }
    }
}
