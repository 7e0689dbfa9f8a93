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
//!
//! # Writing a layer
//!
//! Another crate can write a layer (NATS, Postgres, a test double) from what this module exports:
//! - [`LocalRegistry`] is the process-local half every layer needs: it makes the [`Inbox`] of each reply
//!   channel ([`ChannelLayer::new_channel`]), delivers to it, and fans a group message out to this process's
//!   members (one queue push each, the message shared). `InMemoryLayer` is little more than a
//!   `LocalRegistry`; `RedisLayer` adds Redis for everything that crosses processes.
//! - [`check_channel_name`] and [`check_group_name`] refuse bad names with the errors every layer gives.
//! - [`conformance`] checks a layer against the spec's rules: run [`conformance::run_all`] in its tests.
//! - [`async_trait`](macro@async_trait) is the attribute an `impl ChannelLayer` block needs.

pub(crate) mod clock;
mod config;
pub mod conformance;
mod error;
mod inbox;
pub mod local;
mod memory;
mod message;
pub(crate) mod queue;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{RedisConfig, RedisHost, RedisLayer, RedisLayerError, RedisStats};
/// The attribute that `impl ChannelLayer for ..` blocks need (the trait's methods are async): the same
/// `async-trait` the trait was declared with, so a layer crate doesn't depend on it separately.
pub use async_trait::async_trait;
pub use config::LayerConfig;
pub use error::LayerError;
pub use inbox::Inbox;
pub use local::LocalRegistry;
pub use memory::InMemoryLayer;
pub use message::LayerMessage;

/// The channel layer interface, with the semantics of Channels' ASGI layer spec.
///
/// Every method is async because a layer may live across the network (Redis). Implementations must be
/// cheap to share: the server and every consumer hold an `Arc<dyn ChannelLayer>`. The module docs say how
/// to write one; [`conformance::run_all`] checks it.
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

/// Checks a channel name against Channels' rule, as every layer operation does first.
///
/// ```
/// use channels_runtime::layer::{check_channel_name, LayerError};
/// assert!(check_channel_name("specific.abc!def").is_ok());
/// assert!(matches!(check_channel_name("no spaces"), Err(LayerError::InvalidName { .. })));
/// ```
pub fn check_channel_name(name: &str) -> Result<(), LayerError> {
    crate::names::validate_channel_name(name).map_err(|reason| LayerError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Checks a group name (also the rule for a [`ChannelLayer::new_channel`] prefix), as every group
/// operation does first.
///
/// ```
/// use channels_runtime::layer::check_group_name;
/// assert!(check_group_name("chat.lobby").is_ok());
/// assert!(check_group_name("a!b").is_err());
/// ```
pub fn check_group_name(name: &str) -> Result<(), LayerError> {
    crate::names::validate_group_name(name).map_err(|reason| LayerError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}
