//! Channel layers: the transport that carries messages between consumers, connections and processes.
//!
//! The [`ChannelLayer`] trait has the semantics of Channels' ASGI channel layer spec: named FIFO channels with
//! a capacity ([`LayerError::ChannelFull`] when full), message expiry, at-most-once delivery to one reader,
//! groups with an expiry, and process-local channels (`prefix!suffix`) for reply channels.
//!
//! [`InMemoryLayer`] is the embedded default, for one process. `RedisLayer` (feature `redis`) spans
//! processes and machines.
//!
//! ```
//! use channels_runtime::layer::{ChannelLayer, InMemoryLayer, LayerMessage};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = InMemoryLayer::new();
//! layer.send("thumbnails.generate", LayerMessage::text("a.png")).await?;
//! assert_eq!(layer.receive("thumbnails.generate").await?, LayerMessage::text("a.png"));
//! # Ok(()) }
//! ```

pub(crate) mod clock;
mod local;
mod memory;
mod message;
pub(crate) mod queue;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod wire;

use std::sync::{Arc, Weak};
use std::time::Duration;

#[cfg(feature = "redis")]
pub use self::redis::RedisLayer;
pub use memory::InMemoryLayer;
pub use message::LayerMessage;

use crate::names::NameError;
use queue::Queue;

/// Errors of channel layer operations, one variant per thing a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    /// The channel already holds `capacity` messages (Channels' `ChannelFull`). Nothing was queued.
    #[error("channel is full")]
    ChannelFull,
    /// The process-local channel no longer exists: its connection has closed.
    #[error("channel is closed (its connection has gone)")]
    ChannelClosed,
    /// A channel or group name breaks Channels' naming rule.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The refused name.
        name: String,
        /// Why it was refused.
        reason: NameError,
    },
    /// The layer's backing service can't be reached (for layers that have one).
    #[error("channel layer unavailable: {0}")]
    Unavailable(String),
}

/// Limits of a channel layer, with Channels' defaults.
#[derive(Debug, Clone)]
pub struct LayerConfig {
    /// Messages a channel holds before sends fail with [`LayerError::ChannelFull`]. Default 100.
    pub capacity: usize,
    /// How long an unread message stays deliverable. Default 60 s.
    pub expiry: Duration,
    /// How long a group membership lasts unless renewed by another `group_add`. Default 86 400 s.
    pub group_expiry: Duration,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            capacity: 100,
            expiry: Duration::from_secs(60),
            group_expiry: Duration::from_secs(86_400),
        }
    }
}

/// The channel layer interface, with the semantics of Channels' ASGI layer spec.
///
/// Every method is async because a layer may live across the network (Redis). Implementations must be
/// cheap to share: the server and every consumer hold an `Arc<dyn ChannelLayer>`.
#[async_trait::async_trait]
pub trait ChannelLayer: Send + Sync + std::fmt::Debug + 'static {
    /// Queues `message` on `channel`. Fails with [`LayerError::ChannelFull`] rather than waiting.
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError>;

    /// Waits for the next message on a (non process-local) channel; each message goes to one receiver.
    ///
    /// # Cancel safety
    /// Implementations must be cancel-safe: dropping the future never loses a message.
    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError>;

    /// Creates a new process-local channel named `prefix!<unique>`, and the inbox that reads it.
    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError>;

    /// Adds `channel` to `group` (or renews its membership).
    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError>;

    /// Removes `channel` from `group`; removing a non-member is not an error.
    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError>;

    /// Sends `message` to every member of `group`.
    ///
    /// As in Channels, a member whose channel is full misses this message (at-most-once delivery); the
    /// others are not slowed down. The miss is counted in [`ChannelLayer::dropped`] and logged at debug level.
    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError>;

    /// The layer's limits.
    fn config(&self) -> &LayerConfig;

    /// How many group messages were dropped because a member's channel was full, since the layer started.
    fn dropped(&self) -> u64 {
        0
    }
}

/// Something that forgets a process-local channel when its [`Inbox`] goes away.
pub(crate) trait InboxRegistry: Send + Sync + std::fmt::Debug {
    fn release(&self, name: &str);
}

/// The reading end of a process-local channel (a reply channel), made by [`ChannelLayer::new_channel`].
///
/// Dropping it closes the channel: later sends to it fail with [`LayerError::ChannelClosed`].
#[derive(Debug)]
pub struct Inbox {
    name: Arc<str>,
    queue: Arc<Queue>,
    registry: Option<Weak<dyn InboxRegistry>>,
}

impl Inbox {
    pub(crate) fn new(
        name: Arc<str>,
        queue: Arc<Queue>,
        registry: Option<Weak<dyn InboxRegistry>>,
    ) -> Self {
        Inbox {
            name,
            queue,
            registry,
        }
    }

    /// The channel's full name (`specific.abc!def`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    pub(crate) fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }

    /// Waits for the next message.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping the future loses no message.
    pub async fn recv(&self) -> LayerMessage {
        self.queue.pop().await
    }

    /// Polls for the next message (for a single reader that polls by hand).
    pub(crate) fn poll_recv(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<LayerMessage> {
        self.queue.poll_pop(cx)
    }

    /// Stops pushes from waking the reader until its next `poll_recv` (see `Queue::disarm`).
    pub(crate) fn disarm(&self) {
        self.queue.disarm();
    }

    /// Takes the next message if one is waiting.
    pub fn try_recv(&self) -> Option<LayerMessage> {
        self.queue.try_pop()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.queue.close();
        if let Some(registry) = self.registry.as_ref().and_then(Weak::upgrade) {
            registry.release(&self.name);
        }
    }
}

/// Checks a channel name, as every layer operation does first.
pub(crate) fn check_channel(name: &str) -> Result<(), LayerError> {
    crate::names::validate_channel_name(name).map_err(|reason| LayerError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Checks a group name, as every group operation does first.
pub(crate) fn check_group(name: &str) -> Result<(), LayerError> {
    crate::names::validate_group_name(name).map_err(|reason| LayerError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}
