//! [`RedisLayer`]: a channel layer that spans processes and machines through Redis (feature `redis`).
//!
//! How it maps Channels' layer onto Redis, and what each operation costs:
//! - **Normal channels** (`thumbnails.generate`) are Redis lists `{prefix}:channel:{name}`. `send` is one
//!   script call that drops expired messages, checks the capacity (`ChannelFull`) and appends. Each process
//!   that `receive`s from a channel runs one puller that pops with `BLPOP` into a local queue of one
//!   message, so `receive` is cancel-safe and each message goes to one receiver.
//! - **Process-local channels** (reply channels, `specific.<process>!<n>`) live in their process. A send
//!   from another process is one `PUBLISH` to that process's topic; the owner pushes it to the inbox.
//! - **Groups**: membership is recorded in sorted sets (score = when added, for group expiry), reply
//!   channels and normal channels apart, and every process pattern-subscribes to `{prefix}:group:*`. `group_send` is one script call: it
//!   publishes the message once (Redis fans it out to every process, each of which fans it out to its
//!   local members of that group, if any), and appends it to any normal-channel members. So a broadcast
//!   costs O(processes), not O(members), Redis work; the price is that a process also receives messages of
//!   groups it has no member in, and drops them at once. One subscription for all groups means joining a
//!   group never waits for a subscription, and a membership change sent to another process (adding its
//!   reply channel to a group) is ordered with the group messages that follow it.
//!
//! **Redis going away** is an error to senders ([`LayerError::Unavailable`]), and a reconnect with
//! exponential back-off (100 ms to 5 s) for the commands connection, the subscriber (which then
//! re-subscribes to every group with local members) and each puller. Nothing panics.
//!
//! ```no_run
//! use std::sync::Arc;
//! use channels_runtime::layer::{RedisLayer, LayerConfig};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = RedisLayer::connect("redis://127.0.0.1:6379/", LayerConfig::default()).await?;
//! // Server::new(routing).with_layer(Arc::new(layer)) ...
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::local::{LocalChannels, LocalGroups, lock, new_inbox};
use super::queue::Queue;
use super::wire;
use super::{
    ChannelLayer, Inbox, LayerConfig, LayerError, LayerMessage, check_channel, check_group,
};

/// Appends to a channel list unless it is full, after dropping expired entries.
/// KEYS[1] list; ARGV: entry, capacity, now_ms, expiry_ms. Returns 1 if queued, 0 if full.
const SEND_SCRIPT: &str = r"
local key = KEYS[1]
local capacity = tonumber(ARGV[2])
local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[4])
while true do
  local head = redis.call('LINDEX', key, 0)
  if not head or tonumber(string.sub(head, 1, 13)) > cutoff then break end
  redis.call('LPOP', key)
end
if redis.call('LLEN', key) >= capacity then return 0 end
redis.call('RPUSH', key, ARGV[1])
redis.call('PEXPIRE', key, tonumber(ARGV[4]) + 1000)
return 1
";

/// Sends to a group. KEYS[1] the group's normal-channel members, KEYS[2] its process-local members;
/// ARGV: topic, encoded message, entry (timestamped, for normal-channel members), capacity, now_ms,
/// expiry_ms, group_expiry_ms, channel key prefix. Returns how many normal-channel members were full.
/// Process-local members (reply channels, the usual case) cost nothing here: one PUBLISH reaches them all.
const GROUP_SEND_SCRIPT: &str = r"
local now = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[7]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[7]))
local full = 0
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local cutoff = now - tonumber(ARGV[6])
for _, member in ipairs(members) do
  local key = ARGV[8] .. member
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head or tonumber(string.sub(head, 1, 13)) > cutoff then break end
    redis.call('LPOP', key)
  end
  if redis.call('LLEN', key) >= tonumber(ARGV[4]) then
    full = full + 1
  else
    redis.call('RPUSH', key, ARGV[3])
    redis.call('PEXPIRE', key, tonumber(ARGV[6]) + 1000)
  end
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return full
";

/// Tags of messages on a process topic.
const TARGETED: u8 = b'P';
const CONTROL_ADD: u8 = b'+';
const CONTROL_DISCARD: u8 = b'-';

/// A channel layer backed by Redis, for servers and workers in several processes.
///
/// Every process makes its own `RedisLayer` with the same URL and key prefix; they then share channels and
/// groups. Cloning shares the connection and state. See the module docs for the mapping and costs.
#[derive(Debug, Clone)]
pub struct RedisLayer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: LayerConfig,
    prefix: String,
    process: String,
    client: redis::Client,
    commands: ConnectionManager,
    channels: Arc<LocalChannels>,
    groups: LocalGroups,
    pullers: Mutex<HashMap<String, Arc<Queue>>>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    next_local: AtomicU64,
    dropped: AtomicU64,
    send_script: redis::Script,
    group_send_script: redis::Script,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

fn unavailable(error: redis::RedisError) -> LayerError {
    LayerError::Unavailable(error.to_string())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// A list entry: 13 digits of send time in ms, then the encoded message.
fn timestamped(message: &LayerMessage, at_ms: u64) -> Vec<u8> {
    let mut entry = format!("{at_ms:013}").into_bytes();
    wire::encode_into(message, &mut entry);
    entry
}

fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Back-off between reconnect attempts: 100 ms doubling to 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(Duration::from_millis(100))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }

    fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }
}

impl RedisLayer {
    /// Connects to Redis at `url` (`redis://host:port/db`) with key prefix `channels`.
    ///
    /// Fails with [`LayerError::Unavailable`] if Redis can't be reached now; once connected, later
    /// outages are retried in the background.
    pub async fn connect(url: &str, config: LayerConfig) -> Result<RedisLayer, LayerError> {
        RedisLayer::connect_with_prefix(url, "channels", config).await
    }

    /// Like [`connect`](Self::connect), with its own key prefix: layers with different prefixes on one
    /// Redis don't see each other's channels and groups.
    pub async fn connect_with_prefix(
        url: &str,
        prefix: &str,
        config: LayerConfig,
    ) -> Result<RedisLayer, LayerError> {
        crate::names::validate_group_name(prefix).map_err(|reason| LayerError::InvalidName {
            name: prefix.to_owned(),
            reason,
        })?;
        let client = redis::Client::open(url).map_err(unavailable)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(5));
        let commands = ConnectionManager::new_with_config(client.clone(), manager_config)
            .await
            .map_err(unavailable)?;
        let layer = RedisLayer {
            inner: Arc::new(Inner {
                config,
                prefix: prefix.to_owned(),
                process: random_id(),
                client,
                commands,
                channels: Arc::default(),
                groups: LocalGroups::default(),
                pullers: Mutex::new(HashMap::new()),
                tasks: Mutex::new(Vec::new()),
                next_local: AtomicU64::new(1),
                dropped: AtomicU64::new(0),
                send_script: redis::Script::new(SEND_SCRIPT),
                group_send_script: redis::Script::new(GROUP_SEND_SCRIPT),
            }),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let subscriber = tokio::spawn(subscriber(Arc::downgrade(&layer.inner), Some(ready_tx)));
        lock(&layer.inner.tasks).push(subscriber.abort_handle());
        // Wait for the first subscription so that sends to this process right after `connect` arrive.
        match ready_rx.await {
            Ok(Ok(())) => Ok(layer),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(LayerError::Unavailable("subscriber stopped".into())),
        }
    }

    /// This process's id inside channel names (`specific.<id>!<n>`).
    pub fn process_id(&self) -> &str {
        &self.inner.process
    }

    /// Live local members of `group` in this process (diagnostics).
    pub fn local_group_len(&self, group: &str) -> usize {
        self.inner.groups.len(group, self.inner.config.group_expiry)
    }

    fn channel_key(&self, channel: &str) -> String {
        format!("{}:channel:{channel}", self.inner.prefix)
    }

    /// The pub/sub topic of a group (every process pattern-subscribes to `{prefix}:group:*`).
    fn group_key(&self, group: &str) -> String {
        format!("{}:group:{group}", self.inner.prefix)
    }

    /// The sorted set that records `channel`'s membership of `group`: process-local members and normal
    /// channels are kept apart, so that a group send only walks the (rare) normal-channel members.
    fn membership_key(&self, group: &str, channel: &str) -> String {
        if channel.contains('!') {
            format!("{}:members:{group}", self.inner.prefix)
        } else {
            format!("{}:member-channels:{group}", self.inner.prefix)
        }
    }

    /// The process that owns a process-local channel name (`...<process>!<n>`).
    fn owner(channel: &str) -> Option<&str> {
        let (before, _) = channel.split_once('!')?;
        Some(before.rsplit('.').next().unwrap_or(before))
    }

    fn process_topic(&self, process: &str) -> String {
        format!("{}:process:{process}", self.inner.prefix)
    }

    async fn publish_control(&self, tag: u8, group: &str, channel: &str) -> Result<(), LayerError> {
        let Some(owner) = Self::owner(channel) else {
            return Ok(());
        };
        let mut payload = vec![tag];
        payload.extend_from_slice(&(group.len() as u32).to_be_bytes());
        payload.extend_from_slice(group.as_bytes());
        payload.extend_from_slice(channel.as_bytes());
        let mut commands = self.inner.commands.clone();
        let _: i64 = commands
            .publish(self.process_topic(owner), payload)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn puller_queue(&self, channel: &str) -> Arc<Queue> {
        let mut pullers = lock(&self.inner.pullers);
        if let Some(queue) = pullers.get(channel) {
            return queue.clone();
        }
        // One message prefetched at most: the rest stay in Redis for other processes' receivers.
        let queue = Arc::new(Queue::new(1, Duration::MAX));
        pullers.insert(channel.to_owned(), queue.clone());
        let task = tokio::spawn(puller(
            Arc::downgrade(&self.inner),
            self.channel_key(channel),
            queue.clone(),
        ));
        lock(&self.inner.tasks).push(task.abort_handle());
        queue
    }
}

/// Handles one message of this process's topic: a message for a local channel, or a membership change.
fn on_process_message(inner: &Inner, payload: &[u8]) {
    let Some((&tag, rest)) = payload.split_first() else {
        return;
    };
    match tag {
        TARGETED => {
            let Some(len) = rest
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            else {
                return;
            };
            let (Some(name), Some(body)) = (rest.get(4..4 + len), rest.get(4 + len..)) else {
                return;
            };
            let Ok(name) = std::str::from_utf8(name) else {
                return;
            };
            match (inner.channels.get(name), wire::decode(body)) {
                (Some(queue), Ok(message)) => {
                    if let Err(error) = queue.push(message) {
                        tracing::debug!(channel = name, %error, "message for a local channel dropped");
                    }
                }
                (None, _) => {
                    tracing::debug!(channel = name, "message for a closed local channel dropped")
                }
                (_, Err(error)) => {
                    tracing::warn!(channel = name, %error, "undecodable message dropped")
                }
            }
        }
        CONTROL_ADD | CONTROL_DISCARD => {
            let Some(len) = rest
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            else {
                return;
            };
            let (Some(group), Some(channel)) = (rest.get(4..4 + len), rest.get(4 + len..)) else {
                return;
            };
            let (Ok(group), Ok(channel)) =
                (std::str::from_utf8(group), std::str::from_utf8(channel))
            else {
                return;
            };
            if tag == CONTROL_ADD {
                if let Some(queue) = inner.channels.get(channel) {
                    inner.groups.add(group, channel, &queue);
                }
            } else {
                inner.groups.discard(group, channel);
            }
        }
        _ => tracing::warn!("unknown message on the process topic dropped"),
    }
}

/// Keeps one pub/sub connection: this process's topic, plus the pattern of every group topic. Reconnects
/// with back-off and re-subscribes. `ready` reports the first subscription's outcome.
async fn subscriber(
    inner: std::sync::Weak<Inner>,
    mut ready: Option<tokio::sync::oneshot::Sender<Result<(), LayerError>>>,
) {
    let mut backoff = Backoff::new();
    loop {
        let Some(layer) = inner.upgrade() else { return };
        let process_topic = format!("{}:process:{}", layer.prefix, layer.process);
        let group_prefix = format!("{}:group:", layer.prefix);
        let connected = async {
            let pubsub = layer.client.get_async_pubsub().await?;
            let (mut sink, stream) = pubsub.split();
            sink.subscribe(&process_topic).await?;
            sink.psubscribe(format!("{group_prefix}*")).await?;
            Ok::<_, redis::RedisError>((sink, stream))
        }
        .await;
        let (_sink, mut stream) = match connected {
            Ok(connected) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
                backoff.reset();
                connected
            }
            Err(error) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(unavailable(error)));
                    return;
                }
                tracing::warn!(%error, "Redis subscriber: reconnect failed");
                drop(layer);
                backoff.wait().await;
                continue;
            }
        };
        drop(layer);
        while let Some(message) = stream.next().await {
            let Some(layer) = inner.upgrade() else { return };
            let topic = message.get_channel_name();
            let payload = message.get_payload_bytes();
            if topic == process_topic {
                on_process_message(&layer, payload);
            } else if let Some(group) = topic.strip_prefix(&group_prefix) {
                match wire::decode(payload) {
                    Ok(decoded) => layer
                        .groups
                        .send(group, &decoded, layer.config.group_expiry),
                    Err(error) => {
                        tracing::warn!(group, %error, "undecodable group message dropped")
                    }
                }
            }
        }
        if inner.strong_count() == 0 {
            return;
        }
        tracing::warn!("Redis subscriber: connection lost; reconnecting");
        backoff.wait().await;
    }
}

/// Moves messages of one normal channel from Redis into a local queue of one, for `receive`.
async fn puller(inner: std::sync::Weak<Inner>, key: String, queue: Arc<Queue>) {
    let mut backoff = Backoff::new();
    'connect: loop {
        let Some(layer) = inner.upgrade() else { return };
        let client = layer.client.clone();
        let expiry = millis(layer.config.expiry);
        drop(layer);
        // A dedicated connection: BLPOP blocks the connection it runs on.
        let mut connection = match client.get_multiplexed_async_connection().await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, "Redis receive: connect failed");
                backoff.wait().await;
                continue;
            }
        };
        loop {
            let popped: Result<Option<(String, Vec<u8>)>, _> = connection.blpop(&key, 1.0).await;
            let entry = match popped {
                Ok(Some((_, entry))) => entry,
                Ok(None) => {
                    if inner.strong_count() == 0 {
                        return;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "Redis receive failed; reconnecting");
                    backoff.wait().await;
                    continue 'connect;
                }
            };
            backoff.reset();
            let sent_at = entry
                .get(..13)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u64>().ok())
                .unwrap_or(0);
            if now_ms().saturating_sub(sent_at) >= expiry {
                tracing::debug!(key, "expired message not delivered");
                continue;
            }
            match wire::decode(&entry[13.min(entry.len())..]) {
                Ok(message) => {
                    if queue.push_wait(message).await.is_err() {
                        return;
                    }
                }
                Err(error) => tracing::warn!(key, %error, "undecodable message dropped"),
            }
        }
    }
}

#[async_trait::async_trait]
impl ChannelLayer for RedisLayer {
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_channel(channel)?;
        if let Some(owner) = Self::owner(channel) {
            if owner == self.inner.process {
                let queue = self
                    .inner
                    .channels
                    .get(channel)
                    .ok_or(LayerError::ChannelClosed)?;
                return queue.push(message);
            }
            let mut payload = vec![TARGETED];
            payload.extend_from_slice(&(channel.len() as u32).to_be_bytes());
            payload.extend_from_slice(channel.as_bytes());
            wire::encode_into(&message, &mut payload);
            let mut commands = self.inner.commands.clone();
            let receivers: i64 = commands
                .publish(self.process_topic(owner), payload)
                .await
                .map_err(unavailable)?;
            // No subscriber: the owning process has gone, and so has the channel.
            return if receivers == 0 {
                Err(LayerError::ChannelClosed)
            } else {
                Ok(())
            };
        }
        let now = now_ms();
        let mut commands = self.inner.commands.clone();
        let queued: i64 = self
            .inner
            .send_script
            .key(self.channel_key(channel))
            .arg(timestamped(&message, now))
            .arg(self.inner.config.capacity)
            .arg(now)
            .arg(millis(self.inner.config.expiry))
            .invoke_async(&mut commands)
            .await
            .map_err(unavailable)?;
        if queued == 0 {
            Err(LayerError::ChannelFull)
        } else {
            Ok(())
        }
    }

    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        check_channel(channel)?;
        if channel.contains('!') {
            // Process-local channels are read through their inbox.
            let queue = self
                .inner
                .channels
                .get(channel)
                .ok_or(LayerError::ChannelClosed)?;
            return Ok(queue.pop().await);
        }
        Ok(self.puller_queue(channel).pop().await)
    }

    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        check_group(prefix)?;
        let n = self.inner.next_local.fetch_add(1, Ordering::Relaxed);
        let name: Arc<str> = Arc::from(format!("{prefix}{}!{n:x}", self.inner.process));
        check_channel(&name)?;
        let queue = Arc::new(Queue::new(
            self.inner.config.capacity,
            self.inner.config.expiry,
        ));
        Ok(new_inbox(&self.inner.channels, name, queue))
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group(group)?;
        check_channel(channel)?;
        let key = self.membership_key(group, channel);
        let mut commands = self.inner.commands.clone();
        redis::pipe()
            .zadd(&key, channel, now_ms())
            .ignore()
            .expire(&key, self.inner.config.group_expiry.as_secs() as i64 + 1)
            .ignore()
            .query_async::<()>(&mut commands)
            .await
            .map_err(unavailable)?;
        match Self::owner(channel) {
            Some(owner) if owner == self.inner.process => {
                if let Some(queue) = self.inner.channels.get(channel) {
                    self.inner.groups.add(group, channel, &queue);
                }
                Ok(())
            }
            Some(_) => self.publish_control(CONTROL_ADD, group, channel).await,
            None => Ok(()),
        }
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group(group)?;
        check_channel(channel)?;
        let mut commands = self.inner.commands.clone();
        let removed: Result<i64, _> = commands
            .zrem(self.membership_key(group, channel), channel)
            .await;
        match Self::owner(channel) {
            Some(owner) if owner == self.inner.process => {
                self.inner.groups.discard(group, channel);
            }
            Some(_) => {
                self.publish_control(CONTROL_DISCARD, group, channel)
                    .await?
            }
            None => {}
        }
        removed.map(|_| ()).map_err(unavailable)
    }

    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_group(group)?;
        let now = now_ms();
        let mut commands = self.inner.commands.clone();
        let full: i64 = self
            .inner
            .group_send_script
            .key(self.membership_key(group, "normal"))
            .key(self.membership_key(group, "local!"))
            .arg(self.group_key(group))
            .arg(wire::encode(&message))
            .arg(timestamped(&message, now))
            .arg(self.inner.config.capacity)
            .arg(now)
            .arg(millis(self.inner.config.expiry))
            .arg(millis(self.inner.config.group_expiry))
            .arg(format!("{}:channel:", self.inner.prefix))
            .invoke_async(&mut commands)
            .await
            .map_err(unavailable)?;
        if full > 0 {
            self.inner.dropped.fetch_add(full as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn config(&self) -> &LayerConfig {
        &self.inner.config
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed) + self.inner.groups.dropped()
    }
}
