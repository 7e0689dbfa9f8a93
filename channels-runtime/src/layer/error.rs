//! [`LayerError`]: what a channel layer operation can fail with.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::names::NameError;

/// Errors of channel layer operations, one variant per thing a caller can act on.
///
/// New variants may come (a layer with a backend may need one), so a `match` needs a `_` arm.
///
/// (`Display` and `Error` are written by hand rather than derived: the cause of
/// [`Unavailable`](Self::Unavailable) is kept in an `Arc`, so that the error stays `Clone`, and `source()`
/// must return the cause itself, not the `Arc`, for a caller's downcast to find it.)
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LayerError {
    /// The channel already holds `capacity` messages (Channels' `ChannelFull`). Nothing was queued.
    ChannelFull,
    /// The process-local channel no longer exists: its connection has closed.
    ChannelClosed,
    /// A channel or group name breaks Channels' naming rule.
    InvalidName {
        /// The refused name.
        name: String,
        /// Why it was refused.
        reason: NameError,
    },
    /// The layer's backing service can't be reached (for layers that have one). The backend's own error
    /// is the [`source`](std::error::Error::source), so a caller can inspect it (downcast it to the
    /// backend's type) and a log that prints error chains shows it.
    Unavailable {
        /// What the layer was doing (`"send to a channel"`, `"connect"`).
        what: String,
        /// The backend's error. Shared, so that the error stays cheap to clone.
        source: Arc<dyn StdError + Send + Sync>,
    },
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerError::ChannelFull => f.write_str("channel is full"),
            LayerError::ChannelClosed => f.write_str("channel is closed (its connection has gone)"),
            LayerError::InvalidName { name, reason } => {
                write!(f, "invalid name {name:?}: {reason}")
            }
            LayerError::Unavailable { what, .. } => write!(f, "channel layer unavailable: {what}"),
        }
    }
}

impl StdError for LayerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            LayerError::Unavailable { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl LayerError {
    /// A [`LayerError::Unavailable`]: the backend failed while the layer was doing `what`.
    ///
    /// ```
    /// use std::error::Error;
    /// use channels_runtime::layer::LayerError;
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let error = LayerError::unavailable("connect", refused);
    /// assert_eq!(error.to_string(), "channel layer unavailable: connect");
    /// assert!(error.source().is_some_and(|cause| cause.is::<std::io::Error>()));
    /// ```
    pub fn unavailable(
        what: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        LayerError::Unavailable {
            what: what.into(),
            source: Arc::from(source.into()),
        }
    }
}

/// Two errors are equal when a caller would act on them alike: same variant, same name and reason, and
/// for [`LayerError::Unavailable`] the same `what` and the same message from the cause (the cause itself
/// can't be compared). This keeps `assert_eq!(layer.send(..).await, Err(LayerError::ChannelFull))` usable.
impl PartialEq for LayerError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (LayerError::ChannelFull, LayerError::ChannelFull)
            | (LayerError::ChannelClosed, LayerError::ChannelClosed) => true,
            (
                LayerError::InvalidName { name, reason },
                LayerError::InvalidName {
                    name: other_name,
                    reason: other_reason,
                },
            ) => name == other_name && reason == other_reason,
            (
                LayerError::Unavailable { what, source },
                LayerError::Unavailable {
                    what: other_what,
                    source: other_source,
                },
            ) => what == other_what && source.to_string() == other_source.to_string(),
            _ => false,
        }
    }
}

impl Eq for LayerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_keeps_its_cause() {
        let error = LayerError::unavailable("send", std::io::Error::other("connection reset"));
        let cause = error.source().map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("connection reset"));
        assert!(
            error
                .source()
                .is_some_and(|cause| cause.is::<std::io::Error>())
        );
        assert_eq!(error.clone(), error);
        assert_ne!(
            error,
            LayerError::unavailable("send", std::io::Error::other("timed out"))
        );
        assert_ne!(error, LayerError::ChannelFull);
    }
}
