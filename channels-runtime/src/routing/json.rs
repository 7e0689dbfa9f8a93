//! JSON consumers: the [`Json`] parameter of a function consumer, and [`JsonWebsocketConsumer`], the
//! hooks of a class-based consumer with a `receive_json` handler (Channels' `JsonWebsocketConsumer` and
//! `AsyncJsonWebsocketConsumer`).
//!
//! A frame that doesn't decode is the consumer's failure, a [`DispatchError`]: logged, and then the
//! consumer's [`ErrorMode`](super::ErrorMode) decides (Channels 4: close with 1011, as the
//! `JSONDecodeError` Channels raises does; Channels 1.x: keep the connection). Never a panic, never
//! silence.

use std::future::Future;
use std::ops::{Deref, DerefMut};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::dispatch::DispatchError;
use crate::message::events;
use crate::{Message, ReplyChannel, Result};

/// A consumer parameter holding the message's JSON, decoded into `T` with serde: the text of a
/// `websocket.receive` frame, the body of an `http.request`, or the payload of a message on a custom
/// channel.
///
/// In a `#[consumer]` (the `channels` crate), the parameter's pattern may take it apart:
///
/// ```ignore
/// #[derive(serde::Deserialize)]
/// struct ChatIn {
///     message: String,
/// }
///
/// #[consumer]
/// async fn chat(message: Message, Json(chat): Json<ChatIn>) -> Result<()> {
///     message.reply_channel.send_json(&json!({"message": chat.message})).await
/// }
/// ```
///
/// (The README's "JSON consumers" section runs this.) It derefs to the value:
///
/// ```
/// use channels_runtime::routing::Json;
/// let point = Json(vec![1, 2]);
/// assert_eq!(point.len(), 2); // through `Deref`
/// assert_eq!(point.into_inner(), [1, 2]);
/// ```
///
/// A message that doesn't decode (not JSON, a missing field, a binary frame) never reaches the
/// consumer: it is a [`DispatchError`], logged, and the consumer's
/// [`ErrorMode`](super::ErrorMode) decides what the connection gets. Take `Json<serde_json::Value>`
/// to accept any JSON, or read `message.text()` to answer bad input yourself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The JSON text of `message`, decoded with `decode`: a text frame's text, an `http.request`'s body, or
/// the payload of a message on a custom channel (or a typed event).
pub(crate) fn decode_message<T>(
    message: &Message,
    decode: impl FnOnce(&str) -> std::result::Result<T, serde_json::Error>,
) -> std::result::Result<T, DispatchError>
where
    T: DeserializeOwned,
{
    let json = |source| DispatchError::Json { source };
    if let Some(text) = message.text() {
        return decode(text).map_err(json);
    }
    let channel = message.channel();
    if let Some(payload) = message.content.payload() {
        return serde_json::from_value(Value::Object(payload.clone())).map_err(json);
    }
    if channel == events::HTTP_REQUEST {
        let body = message.bytes().map_or(&[][..], |b| &b[..]);
        return serde_json::from_slice(body).map_err(json);
    }
    let what = if message.bytes().is_some() {
        "binary frame".to_owned()
    } else {
        format!("{channel} message")
    };
    Err(DispatchError::NoText { what })
}

/// The hooks of a class-based consumer that takes JSON: Channels' `JsonWebsocketConsumer` and
/// `AsyncJsonWebsocketConsumer`.
///
/// A `#[consumer] impl` with a `receive_json` handler decodes each `websocket.receive` text frame with
/// [`decode_json`](Self::decode_json) and calls `receive_json(&mut self, message, content)` with it
/// (`content: T`, any `T: serde::Deserialize`; `serde_json::Value` takes any JSON). Declare the base
/// class as Python does, with an `impl` (its methods have Channels' defaults; override the hooks there):
///
/// ```ignore
/// #[derive(Default)]
/// struct Echo;
///
/// // class Echo(AsyncJsonWebsocketConsumer):
/// impl JsonWebsocketConsumer for Echo {}
///
/// #[consumer]
/// impl Echo {
///     // async def receive_json(self, content): await self.send_json(content)
///     async fn receive_json(&mut self, message: Message, content: serde_json::Value) -> Result<()> {
///         self.send_json(&message.reply_channel, &content).await
///     }
/// }
/// ```
///
/// (The README's "JSON consumers" section runs this.) The hooks, overridden:
///
/// ```
/// use channels_runtime::routing::JsonWebsocketConsumer;
///
/// struct Lenient;
///
/// impl JsonWebsocketConsumer for Lenient {
///     // A bare word is taken as a JSON string: `hello` is `"hello"`.
///     fn decode_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
///         serde_json::from_str(text).or_else(|_| serde_json::from_value(serde_json::Value::from(text)))
///     }
/// }
///
/// let word: String = Lenient::decode_json("hello").unwrap();
/// assert_eq!(word, "hello");
/// assert_eq!(Lenient::encode_json(&[1, 2]).unwrap(), "[1,2]");
/// ```
///
/// A frame that doesn't decode, or a binary frame, is a [`DispatchError`] (see [`Json`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has a `receive_json` handler, but does not implement `JsonWebsocketConsumer`",
    label = "`receive_json` is a `JsonWebsocketConsumer` handler",
    note = "add `impl channels::JsonWebsocketConsumer for {Self} {{}}` (Python's `class {Self}(JsonWebsocketConsumer)`): its `decode_json` and `encode_json` have Channels' defaults, and you may override them there"
)]
pub trait JsonWebsocketConsumer {
    /// Decodes a text frame for `receive_json` (Channels' `decode_json` classmethod, `json.loads`).
    fn decode_json<T: DeserializeOwned>(text: &str) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Encodes `content` for [`send_json`](Self::send_json) (Channels' `encode_json` classmethod,
    /// `json.dumps`).
    fn encode_json<T: Serialize + ?Sized>(
        content: &T,
    ) -> std::result::Result<String, serde_json::Error> {
        serde_json::to_string(content)
    }

    /// Sends `content` encoded with [`encode_json`](Self::encode_json) as a text frame on `to`
    /// (Channels' `self.send_json(content)`; the reply channel is `message.reply_channel`).
    ///
    /// # Cancel safety
    /// Cancel-safe: the frame is queued in the poll that returns `Ok`, or not at all.
    fn send_json<T: Serialize + ?Sized>(
        &self,
        to: &ReplyChannel,
        content: &T,
    ) -> impl Future<Output = Result<()>> + Send {
        let text = Self::encode_json(content);
        let to = to.clone();
        async move { to.send_text(text?).await }
    }

    /// [`send_json`](Self::send_json) for sync handlers.
    fn send_json_blocking<T: Serialize + ?Sized>(
        &self,
        to: &ReplyChannel,
        content: &T,
    ) -> Result<()> {
        to.send_text_blocking(Self::encode_json(content)?)
    }
}
