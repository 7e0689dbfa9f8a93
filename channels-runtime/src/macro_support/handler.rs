//! What a class-based consumer's generated dispatch uses: the event a message goes to, its payload or
//! JSON content, the runs a message it can't take gets, and what a handler method returns.

use std::error::Error as StdError;

use serde::de::DeserializeOwned;

use super::handler_name;
use crate::Message;
use crate::routing::{
    ConsumerError, ConsumerResult, DispatchError, Invocation, JsonWebsocketConsumer,
};

/// The event a class-based consumer dispatches a message to: its channel (`websocket.receive`, or the
/// `type` of an event sent to the connection), or, on a worker channel, the message's `type` when it
/// has one (Channels 2+'s `SyncConsumer`).
pub fn dispatch_type(message: &Message) -> &str {
    let channel = message.channel();
    if crate::names::is_custom_channel(channel)
        && let Some(kind) = message
            .content
            .payload()
            .and_then(|payload| payload.get("type"))
            .and_then(serde_json::Value::as_str)
    {
        return kind;
    }
    channel
}

/// What a class-based consumer's handler method returns: `()` or `Result<(), E>` where `E` is an error
/// (as [`IntoConsumerResult`](crate::routing::IntoConsumerResult)), with a message for a method that
/// is a helper rather than a handler.
#[diagnostic::on_unimplemented(
    message = "a `#[consumer] impl` method is an event handler, and a handler returns `()` or `Result<(), E>` where `E` is an error type, not `{Self}`",
    label = "a handler's return type",
    note = "a helper method goes in the block with `#[helper]` above it (`#[helper] fn room_group(&self) -> String`), or in an `impl` block without `#[consumer]`"
)]
pub trait HandlerResult {
    /// Converts the handler's return value.
    fn into_handler_result(self) -> ConsumerResult;
}

impl HandlerResult for () {
    fn into_handler_result(self) -> ConsumerResult {
        Ok(())
    }
}

impl<E: Into<Box<dyn StdError + Send + Sync + 'static>>> HandlerResult for Result<(), E> {
    fn into_handler_result(self) -> ConsumerResult {
        self.map_err(ConsumerError::new)
    }
}

/// A type an event handler's payload parameter can have: anything `serde` can deserialize.
#[diagnostic::on_unimplemented(
    message = "event handler parameter type `{Self}` can't be built from the event's JSON",
    label = "this type doesn't implement `serde::Deserialize`",
    note = "add `#[derive(serde::Deserialize)]` to `{Self}` (its fields are the event's keys), or take `serde_json::Value`"
)]
pub trait FromEvent: DeserializeOwned {}

impl<T: DeserializeOwned> FromEvent for T {}

/// The typed payload of an event sent to a class-based consumer; a [`DispatchError`] when it doesn't fit.
pub fn event_payload<T: FromEvent>(message: &Message) -> Result<T, DispatchError> {
    let value = serde_json::Value::Object(message.content.payload().cloned().unwrap_or_default());
    serde_json::from_value(value).map_err(|source| DispatchError::EventPayload {
        event: message.channel().to_owned(),
        source,
    })
}

/// A run that does nothing: what a `websocket.*` event a class has no method for gets.
pub fn done() -> Invocation {
    Invocation::Async(Box::pin(std::future::ready(ConsumerResult::Ok(()))))
}

/// A run that fails with `error` at once: a message the consumer can't take. It is the consumer's
/// failure, so its [`ErrorMode`](crate::routing::ErrorMode) decides what the connection gets.
pub fn failed(error: DispatchError) -> Invocation {
    Invocation::Async(Box::pin(std::future::ready(Err(ConsumerError::new(error)))))
}

/// An event type that a class-based consumer has no handler for: Channels 4 raises `ValueError: No
/// handler for message type`, so this fails the run (see [`failed`]).
pub fn unhandled_event(message: &Message) -> Invocation {
    failed(DispatchError::NoHandler {
        event: message.channel().to_owned(),
        handler: handler_name(message.channel()).into_owned(),
    })
}

/// A type `receive_json`'s content can have: anything `serde` can deserialize.
#[diagnostic::on_unimplemented(
    message = "`receive_json`'s content type `{Self}` can't be built from JSON",
    label = "this type doesn't implement `serde::Deserialize`",
    note = "add `#[derive(serde::Deserialize)]` to `{Self}`, or take `serde_json::Value` for any JSON"
)]
pub trait FromJson: DeserializeOwned {}

impl<T: DeserializeOwned> FromJson for T {}

/// The content of a `websocket.receive` frame for `receive_json`, decoded with the consumer's
/// [`JsonWebsocketConsumer::decode_json`]; a [`DispatchError`] for a binary frame (Channels raises
/// `ValueError: No text section for incoming WebSocket frame!`) or one that doesn't decode.
pub fn json_content<C: JsonWebsocketConsumer, T: FromJson>(
    message: &Message,
) -> Result<T, DispatchError> {
    match message.text() {
        Some(text) => C::decode_json(text).map_err(|source| DispatchError::Json { source }),
        None => Err(DispatchError::NoText {
            what: "binary frame".to_owned(),
        }),
    }
}
