//! A consumer's parameters after the message ([`ConsumerParam`]: a path capture or an extractor, by its
//! type) and a class-based consumer's event handler parameter ([`HandlerParam`]).

use crate::Message;
use crate::routing::{DispatchError, FromCapture, Json, Multiplexer, PathParams};

use super::handler::event_payload;
use super::{FromEvent, FromJson};

/// A consumer parameter after the message: a path capture or an extractor, told apart by its type.
///
/// `#[consumer]` asks each parameter's type, never its name (axum's per-argument trait bound): a type
/// of the user's that is called `Session` and implements `FromStr` is a capture, and the runtime's
/// [`Session`](crate::Session) is the extractor however it is imported. A consumer's `USES` and
/// `NEEDS` name a parameter only if its [`Self::FROM_PATH`] is true (else [`NOT_A_CAPTURE`]), so
/// `channel_routing!` knows which parameters a route's path must capture.
///
/// Its diagnostic is word for word [`FromCapture`]'s: a type that is neither fails both bounds at the
/// same parameter, and the compiler shows identical errors once. It names both kinds of parameter,
/// since the compiler can't always tell which was meant (`Json<T>` with a `T` that isn't
/// `Deserialize`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a consumer parameter: it is neither a path capture nor an extractor",
    label = "no path capture and no extractor",
    note = "a path capture is a `String`, an integer or a type of your own that implements `std::str::FromStr` (and is `Clone + Send + Sync + 'static`); an extractor is `Session`, `Multiplexer`, or `Json<T>` where `T: serde::Deserialize` (`#[derive(serde::Deserialize)]`)"
)]
pub trait ConsumerParam: Sized {
    /// Whether a route's path must capture the parameter, by the parameter's name.
    const FROM_PATH: bool;
    /// The message itself, which is a consumer's first parameter and only that: as a later parameter
    /// it is refused while compiling, with a message naming the parameter.
    const IS_MESSAGE: bool = false;
    /// What binding a route keeps for every run of the consumer on one connection.
    type Bound: Send + Sync + 'static;
    /// Reads the parameter when a route binds; `None` (a capture that doesn't parse) makes the route
    /// not match.
    fn bind(params: &PathParams, name: &str) -> Option<Self::Bound>;
    /// The value for one run of the consumer; a [`DispatchError`] (the run fails, see [`failed`](super::failed)) when
    /// the message doesn't carry it (a [`Json`] parameter and a frame that doesn't decode).
    fn extract(bound: &Self::Bound, message: &Message) -> Result<Self, DispatchError>;
    /// The value of a class-based consumer's `new` parameter: a capture's value (`None` for anything
    /// else, which `#[consumer]` refuses while compiling).
    fn from_bound(bound: Self::Bound) -> Option<Self>;
}

/// A path capture: parsed once when the route binds, cloned for each run.
impl<T: FromCapture> ConsumerParam for T {
    const FROM_PATH: bool = true;
    type Bound = T;
    fn bind(params: &PathParams, name: &str) -> Option<T> {
        params.parse(name)
    }
    fn extract(bound: &T, _: &Message) -> Result<T, DispatchError> {
        Ok(bound.clone())
    }
    fn from_bound(bound: T) -> Option<T> {
        Some(bound)
    }
}

/// The connection's session (`message.channel_session()`), Channels' `@channel_session`.
impl ConsumerParam for crate::Session {
    const FROM_PATH: bool = false;
    type Bound = ();
    fn bind(_: &PathParams, _: &str) -> Option<()> {
        Some(())
    }
    fn extract(_: &(), message: &Message) -> Result<Self, DispatchError> {
        Ok(message.channel_session().clone())
    }
    fn from_bound(_: ()) -> Option<Self> {
        None
    }
}

/// The message's JSON, decoded (see [`Json`]).
impl<T: FromJson + Send + 'static> ConsumerParam for Json<T> {
    const FROM_PATH: bool = false;
    type Bound = ();
    fn bind(_: &PathParams, _: &str) -> Option<()> {
        Some(())
    }
    fn extract(_: &(), message: &Message) -> Result<Self, DispatchError> {
        crate::routing::decode_message(message, |text| serde_json::from_str(text)).map(Json)
    }
    fn from_bound(_: ()) -> Option<Self> {
        None
    }
}

/// The stream a demultiplexer handed the message to (see [`Multiplexer`]).
impl ConsumerParam for Multiplexer {
    const FROM_PATH: bool = false;
    type Bound = ();
    fn bind(_: &PathParams, _: &str) -> Option<()> {
        Some(())
    }
    fn extract(_: &(), message: &Message) -> Result<Self, DispatchError> {
        message.multiplexer().ok_or(DispatchError::NotMultiplexed)
    }
    fn from_bound(_: ()) -> Option<Self> {
        None
    }
}

/// The message as a later parameter (`Message` or `&Message`): refused while compiling (see
/// [`ConsumerParam::IS_MESSAGE`]), so it never binds (its `Bound` has no value).
macro_rules! message_is_no_later_parameter {
    ($($ty:ty),*) => {$(
        impl ConsumerParam for $ty {
            const FROM_PATH: bool = false;
            const IS_MESSAGE: bool = true;
            type Bound = std::convert::Infallible;
            fn bind(_: &PathParams, _: &str) -> Option<Self::Bound> {
                None
            }
            fn extract(bound: &Self::Bound, _: &Message) -> Result<Self, DispatchError> {
                match *bound {}
            }
            fn from_bound(bound: Self::Bound) -> Option<Self> {
                match bound {}
            }
        }
    )*};
}
message_is_no_later_parameter!(Message, &Message);

/// What an extractor parameter (see [`ConsumerParam`]) is called in a consumer's `USES` and `NEEDS`.
/// No capture has this name, and `channel_routing!` lists it among every route's captures, so an
/// extractor needs nothing from a route's path.
pub const NOT_A_CAPTURE: &str = "";

/// The only parameter of a class-based consumer's event handler: the message or the event's payload,
/// told apart by its type (an event type of the user's called `Message` is a payload).
#[diagnostic::on_unimplemented(
    message = "event handler parameter type `{Self}` can't be built from the event's JSON",
    label = "this type doesn't implement `serde::Deserialize`",
    note = "add `#[derive(serde::Deserialize)]` to `{Self}` (its fields are the event's keys), or take `serde_json::Value`; a handler's only parameter may also be the `Message`"
)]
pub trait HandlerParam: Sized {
    /// The argument for `message`; a [`DispatchError`] when the payload doesn't fit.
    fn from_event(message: Message) -> Result<Self, DispatchError>;
}

impl HandlerParam for Message {
    fn from_event(message: Message) -> Result<Self, DispatchError> {
        Ok(message)
    }
}

impl<T: FromEvent> HandlerParam for T {
    fn from_event(message: Message) -> Result<Self, DispatchError> {
        event_payload(&message)
    }
}
