//! The error type of consumer-facing operations.

use crate::layer::LayerError;
use crate::names::NameError;

/// What can go wrong when a consumer (or any other code) talks to channels, groups and reply channels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The channel layer refused the operation (full channel, invalid name, unavailable backend).
    #[error(transparent)]
    Layer(LayerError),
    /// The connection behind this reply channel has closed; nothing was sent.
    #[error("the connection has closed; nothing was sent")]
    Disconnected,
    /// The channel is full (Channels' `ChannelFull`); nothing was sent.
    #[error("channel is full; nothing was sent")]
    ChannelFull,
    /// A group or channel name breaks Channels' naming rule.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The refused name.
        name: String,
        /// Why.
        reason: NameError,
    },
    /// A message given as JSON has keys that don't fit together or that Channels doesn't know.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// This message came with no reply channel (a worker message sent without one).
    #[error("this message has no reply channel")]
    NoReplyChannel,
    /// No channel layer is reachable from here: run inside a server or worker, bind one with `with_layer`,
    /// or choose a process default (`Server::set_as_default_layer`, `set_default_layer`).
    #[error(
        "no channel layer here: outside a consumer, bind one (`.with_layer(server.layer())`) or choose a process default (`Server::set_as_default_layer()`); a `*_blocking` call outside a runtime also needs a running server or worker"
    )]
    NoLayer,
    /// A `*_blocking` method was called on an async runtime thread, where it would stall the runtime.
    #[error(
        "a blocking send was called from async code; use the async method (`.await`) there, and `*_blocking` only in sync consumers"
    )]
    BlockingInAsync,
    /// Serializing a value to JSON failed.
    #[error("could not encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A message has no such key (`message.content.try_get(key)?`, Python's `KeyError`).
    #[error(transparent)]
    Key(#[from] crate::KeyError),
}

impl From<LayerError> for Error {
    fn from(error: LayerError) -> Self {
        match error {
            LayerError::ChannelFull => Error::ChannelFull,
            LayerError::ChannelClosed => Error::Disconnected,
            LayerError::InvalidName { name, reason } => Error::InvalidName { name, reason },
            other => Error::Layer(other),
        }
    }
}

/// `Result` with [`Error`], the return type of consumers in the examples.
pub type Result<T, E = Error> = std::result::Result<T, E>;
