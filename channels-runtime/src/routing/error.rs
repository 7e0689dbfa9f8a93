//! [`RoutingError`]: what is wrong with a route table built at runtime.

/// A problem found when a route table is built at runtime (the macros find these at compile time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// A path pattern is not a valid regex.
    #[error("invalid path pattern {pattern:?}: {message}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// The regex crate's explanation.
        message: String,
    },
    /// A Django `path()` route is malformed (an unknown converter, an unmatched `<`).
    #[error("invalid path() route {route:?}: {reason}")]
    Route {
        /// The route as written.
        route: String,
        /// What is wrong with it.
        reason: channels_names::route::RouteError,
    },
    /// A channel name breaks Channels' naming rule.
    #[error("invalid channel name {name:?}: {reason}")]
    InvalidChannel {
        /// The name.
        name: String,
        /// Why (also in the message, so not repeated as a `source`).
        reason: crate::names::NameError,
    },
    /// An event name under a protocol prefix (`websocket.`, `http.`) that no server delivers, such as
    /// `"http.foo"` or a misspelt `"websocket.recieve"`: it is neither a built-in event nor a custom channel.
    #[error("unknown event {name:?}: {}", crate::names::events::Rule)]
    UnknownEvent {
        /// The name.
        name: String,
    },
}
