//! [`Protocol`]: the split `ProtocolTypeRouter` makes (Channels 2+).

use crate::names::{events, is_custom_channel};

/// A key of Channels 2+'s `ProtocolTypeRouter`: which events a [`Routing::protocol`] entry hands to its
/// table.
///
/// [`Routing::protocol`]: super::Routing::protocol
///
/// ```
/// use channels_runtime::routing::Protocol;
/// assert!(Protocol::WebSocket.takes("websocket.receive"));
/// assert!(Protocol::Http.takes("http.request"));
/// assert!(Protocol::Channel.takes("thumbnails-generate"));
/// assert!(!Protocol::Channel.takes("websocket.connect"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `"websocket"`: every `websocket.*` event.
    WebSocket,
    /// `"http"`: `http.request`.
    Http,
    /// `"channel"`: messages on custom channels (worker channels, Channels' `ChannelNameRouter`).
    Channel,
}

impl Protocol {
    /// The protocol named `key` in a `ProtocolTypeRouter` (`"websocket"`, `"http"`, `"channel"`).
    pub fn from_key(key: &str) -> Option<Protocol> {
        match key {
            "websocket" => Some(Protocol::WebSocket),
            "http" => Some(Protocol::Http),
            "channel" => Some(Protocol::Channel),
            _ => None,
        }
    }

    /// Whether events named `event` belong to this protocol.
    pub fn takes(self, event: &str) -> bool {
        match self {
            Protocol::WebSocket => event.starts_with(events::WEBSOCKET_PREFIX),
            Protocol::Http => event.starts_with(events::HTTP_PREFIX),
            Protocol::Channel => is_custom_channel(event),
        }
    }
}
