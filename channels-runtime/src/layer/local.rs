//! [`LocalRegistry`]: the process-local half of a channel layer, for layer authors.
//!
//! Whatever carries messages between processes (Redis, NATS, Postgres), a layer keeps some things in the
//! process itself: the inboxes of this process's reply channels, and which of them belong to which group,
//! so that a group message reaching the process is fanned out to its local members in memory (one queue
//! push per member, the message shared, not copied). `LocalRegistry` is that part, the same one
//! [`InMemoryLayer`](super::InMemoryLayer) and `RedisLayer` use; like socketioxide's `CoreLocalAdapter`, it
//! lets a new layer reuse local fan-out instead of rewriting it.
//!
//! A complete single-process layer is a registry plus name checks:
//!
//! ```
//! use channels_runtime::layer::{
//!     check_channel_name, check_group_name, ChannelLayer, Inbox, LayerConfig, LayerError, LayerMessage,
//!     LocalRegistry,
//! };
//! /// A channel session: a JSON object.
//! type Session = serde_json::Map<String, serde_json::Value>;
//!
//! #[derive(Debug)]
//! struct MyLayer {
//!     local: LocalRegistry,
//! }
//!
//! #[channels_runtime::layer::async_trait]
//! impl ChannelLayer for MyLayer {
//!     async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
//!         check_channel_name(channel)?;
//!         self.local.send(channel, message)
//!     }
//!     async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
//!         check_channel_name(channel)?;
//!         self.local.receive(channel).await
//!     }
//!     async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
//!         self.local.new_channel(prefix)
//!     }
//!     async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
//!         check_group_name(group)?;
//!         check_channel_name(channel)?;
//!         self.local.group_add(group, channel);
//!         Ok(())
//!     }
//!     async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
//!         check_group_name(group)?;
//!         check_channel_name(channel)?;
//!         self.local.group_discard(group, channel);
//!         Ok(())
//!     }
//!     async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
//!         check_group_name(group)?;
//!         self.local.group_send(group, &message);
//!         Ok(())
//!     }
//!     fn config(&self) -> &LayerConfig {
//!         self.local.config()
//!     }
//!     fn dropped(&self) -> u64 {
//!         self.local.dropped()
//!     }
//!     // Channel sessions: without these four, the trait's defaults keep them in this process too
//!     // (and say so in the log); a layer that spans processes stores them in its backend.
//!     async fn session_load(&self, channel: &str) -> Result<Option<Session>, LayerError> {
//!         check_channel_name(channel)?;
//!         Ok(self.local.session_load(channel))
//!     }
//!     async fn session_save(&self, channel: &str, session: &Session) -> Result<(), LayerError> {
//!         check_channel_name(channel)?;
//!         self.local.session_save(channel, session);
//!         Ok(())
//!     }
//!     fn session_may_have_changed(&self, channel: &str) -> bool {
//!         self.local.session_may_have_changed(channel)
//!     }
//!     async fn session_delete(&self, channel: &str) -> Result<(), LayerError> {
//!         check_channel_name(channel)?;
//!         self.local.session_delete(channel);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), LayerError> {
//! let layer = MyLayer { local: LocalRegistry::new("mine", LayerConfig::default()) };
//! let inbox = layer.new_channel("specific.").await?;
//! layer.group_add("chat", inbox.name()).await?;
//! layer.group_send("chat", LayerMessage::text("hello")).await?;
//! assert_eq!(inbox.recv().await, LayerMessage::text("hello"));
//! # Ok(()) }
//! ```
//!
//! A layer that spans processes uses the registry for process-local names only (those with a `!`), and
//! calls [`LocalRegistry::group_send`] when a group message arrives from its backend.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::inbox::Release;
use super::queue::{Gathered, Queue};
use super::sessions::SessionTable;
use super::{Inbox, LayerConfig, LayerError, LayerMessage, check_channel_name, check_group_name};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections here are single map operations; a poisoned lock holds consistent data.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The channels held in this process and their group memberships: inboxes, delivery, local fan-out.
///
/// **Names.** A name with `!` is a process-local channel (made by [`new_channel`](Self::new_channel)): it
/// exists while its [`Inbox`] lives, and sends to it fail with [`LayerError::ChannelClosed`] after. Any other
/// name is a normal channel, created here on first use; a layer that keeps normal channels elsewhere (in
/// Redis) passes only process-local names. The registry does not check names: the layer does first, with
/// [`check_channel_name`] and [`check_group_name`], as in the module example.
///
/// **Limits** come from the [`LayerConfig`] given to [`new`](Self::new): every channel holds at most
/// `capacity` messages ([`LayerError::ChannelFull`] after), a message older than `expiry` is never delivered,
/// and a membership older than `group_expiry` is forgotten unless renewed by another `group_add`.
///
/// **Slow members.** A group message to a member whose channel is full is dropped for that member only
/// (at-most-once delivery), counted in [`dropped`](Self::dropped) and logged at debug level; the sender never
/// waits. A server's WebSocket reply channels are bounded by bytes instead (its
/// [`ServerConfig::outbound_budget`](crate::ServerConfig::outbound_budget)): one past its budget is closed
/// (and forgotten here) or, with the drop policy, misses the message as above. Every operation takes a
/// lock for one map operation; none is held across an await.
///
/// Cloning is cheap and shares the registry.
///
/// ```
/// use channels_runtime::layer::{LayerConfig, LayerMessage, LocalRegistry};
/// let local = LocalRegistry::new("proc1", LayerConfig::default());
/// let inbox = local.new_channel("specific.")?;
/// assert!(inbox.name().starts_with("specific.proc1!"));
/// local.group_add("chat", inbox.name());
/// local.group_send("chat", &LayerMessage::text("hi"));
/// assert_eq!(inbox.try_recv(), Some(LayerMessage::text("hi")));
/// # Ok::<(), channels_runtime::layer::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: LayerConfig,
    /// What goes between a new channel's prefix and its `!`.
    process: String,
    /// Whether `process` is made of name characters only (no `!`): then a new channel's name, a valid
    /// prefix, `process`, `!` and hex digits, is valid whenever it is short enough, and is not checked
    /// character by character for every connection.
    plain_process: bool,
    next_local: AtomicU64,
    channels: Mutex<HashMap<Arc<str>, Arc<Queue>>>,
    groups: Mutex<HashMap<String, HashMap<Arc<str>, Member>>>,
    dropped: AtomicU64,
    /// The `layer` label its drops are counted under in the metrics (the layer it works for).
    drops_as: crate::metrics::Layer,
    sessions: SessionTable,
}

#[derive(Debug)]
struct Member {
    since: Instant,
    /// Held strongly (no `Weak::upgrade` per delivery); a closed queue is empty and is forgotten at the
    /// group's next send or discard.
    queue: Arc<Queue>,
}

impl Release for Shared {
    fn release(&self, name: &str) {
        lock(&self.channels).remove(name);
    }
}

/// `<prefix><process>!<n in hex>`, the name of a process-local channel, built on the stack and copied
/// once into its `Arc`: every WebSocket connection makes one, and `format!` then `Arc::from` cost twice
/// the allocations and the formatting machinery.
fn local_name(prefix: &str, process: &str, n: u64) -> Arc<str> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 16];
    let mut start = hex.len();
    let mut rest = n;
    loop {
        start -= 1;
        hex[start] = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    let parts: [&[u8]; 4] = [prefix.as_bytes(), process.as_bytes(), b"!", &hex[start..]];
    // Longer than any valid channel name: the caller's check refuses it, with its own words.
    let mut buffer = [0u8; 2 * crate::names::MAX_NAME_LENGTH];
    let mut len = 0;
    for part in parts {
        let Some(slot) = buffer.get_mut(len..len + part.len()) else {
            return Arc::from(format!("{prefix}{process}!{n:x}"));
        };
        slot.copy_from_slice(part);
        len += part.len();
    }
    // Two `str`s, ASCII around them: UTF-8.
    match std::str::from_utf8(&buffer[..len]) {
        Ok(name) => Arc::from(name),
        Err(_) => Arc::from(format!("{prefix}{process}!{n:x}")),
    }
}

impl LocalRegistry {
    /// A registry whose new channels are named `<prefix><process>!<n>` (so `process` tells this process's
    /// channels apart from other processes'), with the limits of `config`.
    pub fn new(process: impl Into<String>, config: LayerConfig) -> Self {
        Self::counting_drops_as(process, config, crate::metrics::Layer::InMemory)
    }

    /// [`new`](Self::new), for a layer of this crate that counts its drops under its own `layer` label
    /// in the metrics (the Redis layer delivers to its process's members through a registry).
    pub(crate) fn counting_drops_as(
        process: impl Into<String>,
        config: LayerConfig,
        drops_as: crate::metrics::Layer,
    ) -> Self {
        let process = process.into();
        LocalRegistry {
            shared: Arc::new(Shared {
                config,
                plain_process: process.is_empty()
                    || crate::names::validate_group_name(&process).is_ok(),
                process,
                next_local: AtomicU64::new(1),
                channels: Mutex::default(),
                groups: Mutex::default(),
                dropped: AtomicU64::new(0),
                drops_as,
                sessions: SessionTable::default(),
            }),
        }
    }

    /// The limits this registry keeps.
    pub fn config(&self) -> &LayerConfig {
        &self.shared.config
    }

    /// Creates a process-local channel `<prefix><process>!<n>` and returns its inbox: what
    /// [`ChannelLayer::new_channel`](super::ChannelLayer::new_channel) returns. `prefix` follows the group
    /// name rule (`specific.`, `http.response.`).
    pub fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        check_group_name(prefix)?;
        let n = self.shared.next_local.fetch_add(1, Ordering::Relaxed);
        let name = local_name(prefix, &self.shared.process, n);
        // A valid prefix has no `!`: with a plain `process`, the name's only `!` is the one added, and
        // its characters are all allowed; only its length is left to check (see `plain_process`).
        if !(self.shared.plain_process && name.len() < crate::names::MAX_NAME_LENGTH) {
            check_channel_name(&name)?;
        }
        let queue = Arc::new(self.new_queue());
        lock(&self.shared.channels).insert(name.clone(), queue.clone());
        let registry = Arc::downgrade(&self.shared) as Weak<dyn Release>;
        Ok(Inbox::new(name, queue, registry))
    }

    fn new_queue(&self) -> Queue {
        Queue::new(self.shared.config.capacity, self.shared.config.expiry)
    }

    /// The queue of `channel`; a normal channel is created on first use, a process-local one must exist.
    fn queue(&self, channel: &str) -> Result<Arc<Queue>, LayerError> {
        let mut channels = lock(&self.shared.channels);
        if let Some(queue) = channels.get(channel) {
            return Ok(queue.clone());
        }
        if channel.contains('!') {
            return Err(LayerError::ChannelClosed);
        }
        let queue = Arc::new(self.new_queue());
        channels.insert(Arc::from(channel), queue.clone());
        Ok(queue)
    }

    /// Queues `message` on `channel` without waiting: [`LayerError::ChannelFull`] when it holds `capacity`
    /// messages, [`LayerError::ChannelClosed`] when it is a process-local channel whose inbox has gone.
    pub fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        self.queue(channel)?.push(message)
    }

    /// Waits for the next unexpired message on `channel`; each message goes to one receiver.
    ///
    /// # Cancel safety
    /// Cancel-safe: a message is taken only in the poll that returns it.
    pub async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        let queue = self.queue(channel)?;
        Ok(queue.pop().await)
    }

    /// Adds `channel` to `group`, or renews its membership. Returns `false`, and adds nothing, when
    /// `channel` is a process-local channel that is closed (a closed connection would never read).
    pub fn group_add(&self, group: &str, channel: &str) -> bool {
        let Ok(queue) = self.queue(channel) else {
            return false;
        };
        let member = Member {
            since: Instant::now(),
            queue,
        };
        lock(&self.shared.groups)
            .entry(group.to_owned())
            .or_default()
            .insert(Arc::from(channel), member);
        true
    }

    /// Removes `channel` from `group`; removing a non-member does nothing.
    pub fn group_discard(&self, group: &str, channel: &str) {
        let mut groups = lock(&self.shared.groups);
        let Some(members) = groups.get_mut(group) else {
            return;
        };
        members.remove(channel);
        if members.is_empty() {
            groups.remove(group);
        }
    }

    /// Pushes `message` to every live member of `group` in this process: one push each, the message
    /// shared. Members that expired or whose inbox has gone (or was closed past its byte budget) are
    /// forgotten; a member whose channel is full misses this message (counted in
    /// [`dropped`](Self::dropped), logged at debug level).
    ///
    /// Members whose connections take direct writes are written by one flushing pass after the calling
    /// task's turn, instead of each connection's task being woken (see `Queue::push_fanout`).
    pub fn group_send(&self, group: &str, message: &LayerMessage) {
        // Dropped after `push_to_members` has released the lock: the members to flush go to the
        // thread's batch together.
        let mut gathered = Gathered::default();
        self.push_to_members(group, message, Some(&mut gathered));
    }

    /// [`group_send`](Self::group_send) waking each member's connection, without the flushing pass: for
    /// the Redis layer, whose group sends each wait for a round trip, so that a flush after each would
    /// write one message per member per `send`; woken in turn, the members' tasks write what has
    /// gathered meanwhile (measured: 1.0 against 1.5 µs of server CPU per delivery, one sender, 32 in
    /// flight).
    #[cfg(feature = "redis")]
    pub(crate) fn group_send_waking(&self, group: &str, message: &LayerMessage) {
        self.push_to_members(group, message, None);
    }

    fn push_to_members(
        &self,
        group: &str,
        message: &LayerMessage,
        mut gathered: Option<&mut Gathered>,
    ) {
        let now = Instant::now();
        super::clock::observe(now);
        // Members added at or before this instant have expired: one comparison per member instead of a
        // subtraction (`None`: the clock is younger than the expiry, so nobody has expired).
        let expired_at = now.checked_sub(self.shared.config.group_expiry);
        let mut groups = lock(&self.shared.groups);
        let Some(members) = groups.get_mut(group) else {
            return;
        };
        members.retain(|name, member| {
            if expired_at.is_some_and(|at| member.since <= at) {
                return false;
            }
            if member.queue.is_closed() {
                return false;
            }
            let pushed = match gathered.as_deref_mut() {
                Some(gathered) => member.queue.push_fanout(message.clone(), now, gathered),
                None => member.queue.push_at(message.clone(), now),
            };
            match pushed {
                Ok(()) => true,
                Err(LayerError::ChannelFull) => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::layer_dropped(self.shared.drops_as, 1);
                    tracing::debug!(group, channel = %name, "group message dropped: member's channel is full");
                    true
                }
                Err(_) => false,
            }
        });
        if members.is_empty() {
            groups.remove(group);
        }
    }

    /// Live members of `group` in this process (diagnostics and tests).
    pub fn group_len(&self, group: &str) -> usize {
        let now = Instant::now();
        let expiry = self.shared.config.group_expiry;
        lock(&self.shared.groups).get(group).map_or(0, |members| {
            members
                .values()
                .filter(|m| now.duration_since(m.since) < expiry && !m.queue.is_closed())
                .count()
        })
    }

    /// How many group messages were dropped because a member's channel was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The channel session kept for `channel` in this registry, unless it expired: what
    /// [`ChannelLayer::session_load`](super::ChannelLayer::session_load) returns for a layer that keeps
    /// sessions in its process.
    pub fn session_load(&self, channel: &str) -> Option<Map<String, Value>> {
        self.shared.sessions.load(channel)
    }

    /// Keeps `session` for `channel` until `session_expiry` (from [`config`](Self::config)) from now;
    /// an empty session is deleted.
    pub fn session_save(&self, channel: &str, session: &Map<String, Value>) {
        self.shared
            .sessions
            .save(channel, session, self.shared.config.session_expiry);
    }

    /// Whether the session of `channel` may have been written by someone else since its connection
    /// last loaded or saved it: `false` while this registry has never kept a non-empty session (then
    /// nobody has written one), `true` from then on. What
    /// [`ChannelLayer::session_may_have_changed`](super::ChannelLayer::session_may_have_changed)
    /// answers for a layer that keeps sessions in its process; it spares every consumer run of a
    /// connection without a session a lookup.
    pub fn session_may_have_changed(&self, channel: &str) -> bool {
        let _ = channel;
        self.shared.sessions.may_hold_any()
    }

    /// Forgets the channel session of `channel`.
    pub fn session_delete(&self, channel: &str) {
        self.shared.sessions.delete(channel);
    }

    /// How many messages expired unread on `channel` (diagnostics).
    pub fn expired(&self, channel: &str) -> u64 {
        lock(&self.shared.channels)
            .get(channel)
            .map_or(0, |queue| queue.expired_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_read_as_format_writes_them() {
        for n in [0, 1, 9, 10, 15, 16, 255, 0xdead_beef, u64::MAX] {
            assert_eq!(
                &*local_name("specific.", "abc", n),
                format!("specific.abc!{n:x}")
            );
        }
        // Past the stack buffer: still the whole name (which the registry then refuses).
        let long = "p".repeat(3 * crate::names::MAX_NAME_LENGTH);
        assert_eq!(
            &*local_name("specific.", &long, 7),
            format!("specific.{long}!7")
        );
        let registry = LocalRegistry::new(long, LayerConfig::default());
        assert!(registry.new_channel("specific.").is_err());
    }

    #[test]
    fn new_channel_names_are_checked_as_before() {
        let check = |process: &str, prefix: &str| {
            let registry = LocalRegistry::new(process, LayerConfig::default());
            let made = registry
                .new_channel(prefix)
                .map(|inbox| inbox.name().to_owned());
            let expected = check_group_name(prefix)
                .and_then(|()| check_channel_name(&format!("{prefix}{process}!1")));
            match (&made, &expected) {
                (Ok(name), Ok(())) => assert_eq!(name, &format!("{prefix}{process}!1")),
                (Err(made), Err(expected)) => assert_eq!(made.to_string(), expected.to_string()),
                _ => panic!("{process:?} {prefix:?}: made {made:?}, expected {expected:?}"),
            }
        };
        for process in [
            "",
            "abc",
            "a-b_c.d",
            "bad!",
            "bad char",
            "é",
            &"p".repeat(90),
        ] {
            for prefix in ["specific.", "x", "", "bad!", &"q".repeat(95)] {
                check(process, prefix);
            }
        }
    }
}
