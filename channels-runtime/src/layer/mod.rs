//! Channel layers: the transport that carries messages between consumers, connections and processes.
//!
//! The [`ChannelLayer`] trait has the semantics of Channels' ASGI channel layer spec: named FIFO channels with
//! a capacity ([`LayerError::ChannelFull`] when full), message expiry, at-most-once delivery to one reader,
//! groups with an expiry, and process-local channels (`prefix!suffix`) for reply channels. It also keeps
//! each connection's channel session (Channels 1.x's `channel_session`), by reply channel, with an expiry.
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
//! - Channel sessions ([`ChannelLayer::session_load`], [`session_save`](ChannelLayer::session_save),
//!   [`session_delete`](ChannelLayer::session_delete)) have default methods that keep them in the
//!   process (and log a warning once), so a layer written before them still builds and works in one
//!   process; a layer that spans processes implements them in its backend, with
//!   [`LayerConfig::session_expiry`]. [`LocalRegistry`] has the three for a process-local layer.
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
mod sessions;

#[cfg(feature = "redis")]
pub use self::redis::{
    EncryptionKeys, RedisConfig, RedisHost, RedisLayer, RedisLayerError, RedisStats,
};
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

    /// The channel session of the connection whose reply channel is `channel` (Channels'
    /// `channel_session`), or `None` when it has none or it expired.
    ///
    /// The server calls it before a consumer of that connection runs, in any process (see
    /// [`Session`](crate::Session)), so a layer that spans processes keeps sessions where every process
    /// reads them. The default methods keep them in this process's memory and log a warning at first
    /// use: a third-party layer keeps working unchanged, with sessions that a worker in another process
    /// does not see, until it implements the three methods.
    async fn session_load(
        &self,
        channel: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, LayerError> {
        check_channel_name(channel)?;
        Ok(sessions::fallback(std::any::type_name::<Self>()).load(channel))
    }

    /// Stores the channel session of `channel` for [`LayerConfig::session_expiry`] from now, replacing
    /// what was there (the last write wins); an empty session is deleted.
    async fn session_save(
        &self,
        channel: &str,
        session: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        sessions::fallback(std::any::type_name::<Self>()).save(
            channel,
            session,
            self.config().session_expiry,
        );
        Ok(())
    }

    /// Whether the channel session of `channel`, one of this process's reply channels, may have been
    /// written by someone else since this process last loaded or saved it: when `false`, the server
    /// keeps its copy instead of loading it before the connection's next consumer.
    ///
    /// The default, `true`, is always right. `RedisLayer` answers `false` until the channel's name has
    /// left the process in a message (see [`Session`](crate::Session)), which spares its connections a
    /// Redis round trip per consumer run.
    fn session_may_have_changed(&self, channel: &str) -> bool {
        let _ = channel;
        true
    }

    /// Deletes the channel session of `channel` (its connection has ended); deleting none is not an
    /// error.
    async fn session_delete(&self, channel: &str) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        sessions::fallback(std::any::type_name::<Self>()).delete(channel);
        Ok(())
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
