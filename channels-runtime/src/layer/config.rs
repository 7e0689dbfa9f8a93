//! [`LayerConfig`]: the limits every channel layer keeps.

use std::time::Duration;

/// Limits of a channel layer, with Channels' defaults.
///
/// Built from the defaults with one setter per limit, so that a limit added later does not break code
/// that sets the others:
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::layer::LayerConfig;
/// let config = LayerConfig::default().capacity(1000).expiry(Duration::from_secs(10));
/// assert_eq!(config.capacity, 1000);
/// assert_eq!(config.group_expiry, Duration::from_secs(86_400));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerConfig {
    /// Messages a channel holds before sends fail with [`LayerError::ChannelFull`](super::LayerError).
    /// Default 100.
    pub capacity: usize,
    /// How long an unread message stays deliverable. Default 60 s.
    pub expiry: Duration,
    /// How long a group membership lasts unless renewed by another `group_add`. Default 86 400 s.
    pub group_expiry: Duration,
    /// How long a channel session (`message.channel_session()`) is kept after it was last saved: it is
    /// deleted when its connection ends, and this bounds what a connection that vanished without a
    /// disconnect leaves behind. Default 86 400 s (a day, like `group_expiry`; Channels 1.x used
    /// Django's `SESSION_COOKIE_AGE`, two weeks, for sessions that outlived their connection).
    pub session_expiry: Duration,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            capacity: 100,
            expiry: Duration::from_secs(60),
            group_expiry: Duration::from_secs(86_400),
            session_expiry: Duration::from_secs(86_400),
        }
    }
}

impl LayerConfig {
    /// Sets the `capacity` field: messages a channel holds before sends fail.
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the `expiry` field: how long an unread message stays deliverable.
    #[must_use]
    pub fn expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sets the `group_expiry` field: how long a membership lasts unless renewed.
    #[must_use]
    pub fn group_expiry(mut self, group_expiry: Duration) -> Self {
        self.group_expiry = group_expiry;
        self
    }

    /// Sets the `session_expiry` field: how long a channel session lasts after its last save.
    #[must_use]
    pub fn session_expiry(mut self, session_expiry: Duration) -> Self {
        self.session_expiry = session_expiry;
        self
    }
}
