//! [`DispatchError`]: a message a consumer was handed but can't take. The dispatch reports it as the
//! consumer's failure, so it follows the consumer's [`ErrorMode`](super::ErrorMode): logged, and the
//! connection closed with 1011 (Channels 4) or kept (Channels 1.x). Never a panic, never silence.

/// Why a message could not be handed to a consumer's code, as Channels raises it.
///
/// Each variant says what Channels does in the same case, so a port knows what to expect.
///
/// ```
/// use channels_runtime::routing::DispatchError;
/// let error = DispatchError::NoHandler { event: "chat.mesage".into(), handler: "chat_mesage".into() };
/// assert_eq!(
///     error.to_string(),
///     "no handler for event type \"chat.mesage\": the consumer has no method `chat_mesage`"
/// );
/// assert_eq!(error.close_reason(), "no handler for event type");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// A class-based consumer has no handler method for an event's `type` (Channels 4 raises
    /// `ValueError: No handler for message type`).
    #[error("no handler for event type \"{event}\": the consumer has no method `{handler}`")]
    NoHandler {
        /// The event's `type`.
        event: String,
        /// The method it would go to (dots become underscores).
        handler: String,
    },
    /// A typed event reached a connection whose consumer takes none: function consumers and
    /// demultiplexers have no handler methods (Channels 4 raises `ValueError: No handler for message
    /// type`).
    #[error(
        "no handler for event type \"{event}\": this connection's consumer takes no typed events (function consumers and demultiplexers don't); route a class-based consumer with a method for it"
    )]
    NoEvents {
        /// The event's `type`.
        event: String,
    },
    /// An event's payload doesn't fit the handler's parameter type (a missing key is Python's
    /// `KeyError` in the handler).
    #[error("the payload of a \"{event}\" event does not fit the handler's parameter: {source}")]
    EventPayload {
        /// The event's `type`.
        event: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A frame isn't the JSON a [`Json`](super::Json) parameter or `receive_json` expects (Channels'
    /// `JsonWebsocketConsumer` raises `json.decoder.JSONDecodeError`).
    #[error("the message is not the JSON this consumer takes: {source}")]
    Json {
        /// What serde said (or the consumer's `decode_json`).
        #[source]
        source: serde_json::Error,
    },
    /// The message carries no JSON text: a binary frame, or a `websocket.connect`/`disconnect`
    /// (Channels' `JsonWebsocketConsumer` raises `ValueError: No text section for incoming WebSocket
    /// frame!`).
    #[error("a {what} carries no JSON text for this consumer")]
    NoText {
        /// What came instead: "binary frame", "websocket.connect message", ...
        what: String,
    },
    /// A frame sent to a demultiplexer isn't `{"stream": ..., "payload": {...}}`, or names a stream
    /// nobody serves (Channels 1.x's `WebsocketDemultiplexer` raises `ValueError`).
    #[error("invalid multiplexed frame: {reason}")]
    Demultiplex {
        /// What is wrong with it.
        reason: String,
    },
    /// A consumer takes a `Multiplexer` parameter, but the message didn't come through a
    /// demultiplexer's stream.
    #[error(
        "this consumer takes a `Multiplexer`, but the message did not come through a demultiplexer's stream"
    )]
    NotMultiplexed,
}

impl DispatchError {
    /// The close frame's reason when the connection closes for this error (at most 123 bytes).
    pub fn close_reason(&self) -> &'static str {
        match self {
            DispatchError::NoHandler { .. } | DispatchError::NoEvents { .. } => {
                "no handler for event type"
            }
            DispatchError::EventPayload { .. } => "event payload does not fit its handler",
            DispatchError::Json { .. } | DispatchError::NoText { .. } => "invalid JSON",
            DispatchError::Demultiplex { .. } => "invalid multiplexed frame",
            DispatchError::NotMultiplexed => "not a demultiplexed stream",
        }
    }
}
