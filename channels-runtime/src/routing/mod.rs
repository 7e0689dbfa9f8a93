//! The route table: event type + optional path regex -> consumer. This is what `channel_routing!` expands
//! into, and it can be written by hand too.
//!
//! Rules, as in Channels:
//! - Routes are tried in order; the first whose event matches, whose pattern matches and whose captures
//!   parse wins.
//! - Channels 1.x ([`Routing::new`]): a pattern matches from the start of the whole path (Python's
//!   `re.match`), whether or not it begins with `^`; [`Routing::include`] matches its prefix, strips the
//!   part it matched and hands the rest to the inner table; [`Route::with_field`] matches a message's
//!   top-level field, for each message.
//! - Channels 2+ ([`Routing::url_router`], `URLRouter`): the path is matched without its leading `/`, with
//!   Django's `re_path` and `path` rules ([`PathPattern`]); [`Routing::mount`] nests a router under a
//!   prefix; [`Routing::protocol`] is `ProtocolTypeRouter`'s split ([`Protocol`]), and routes to custom
//!   channels are its `ChannelNameRouter`.
//! - The inner table's captures win over the prefix's on a name clash.
//! - A typed capture that fails to parse (`u32` from `"abc"`) makes that route not match; the next is tried.
//!
//! ```
//! use channels_runtime::routing::{Consumer, Route, Routing};
//! use channels_runtime::{Message, Result};
//!
//! async fn ws_message(message: Message) -> Result<()> {
//!     message.reply_channel.send_text(message.text().unwrap_or_default().to_owned()).await
//! }
//!
//! let routing = Routing::new()
//!     .route(Route::to("websocket.receive", None, Consumer::from_async("ws_message", ws_message)));
//! assert!(routing.errors().is_empty());
//! assert!(routing.resolve("websocket.receive", "/anything/").is_some());
//! ```
//!
//! The parts: [`Consumer`], what a consumer returns and what its failures do ([`ErrorMode`])
//! (`consumer.rs`), messages a consumer can't take ([`DispatchError`], `dispatch.rs`), JSON consumers
//! ([`Json`], [`JsonWebsocketConsumer`], `json.rs`), Channels 1.x's demultiplexer ([`Demultiplexer`],
//! [`Multiplexer`], `demux.rs`), path captures (`captures.rs`), one route's pattern (`pattern.rs`), a
//! [`Route`] (`route.rs`), the [`Routing`] table (`table.rs`), [`Protocol`] (`protocol.rs`) and
//! [`RoutingError`] (`error.rs`).

mod captures;
mod consumer;
mod demux;
mod dispatch;
mod error;
mod json;
mod pattern;
mod protocol;
mod route;
mod table;

pub use captures::{FromCapture, PathParams};
pub use consumer::{
    Consumer, ConsumerError, ConsumerFuture, ConsumerResult, ErrorMode, IntoConsumerResult,
    Invocation,
};
pub use demux::{Demultiplexer, Multiplexer};
pub use dispatch::DispatchError;
pub use error::RoutingError;
pub(crate) use json::decode_message;
pub use json::{Json, JsonWebsocketConsumer};
pub use pattern::PathPattern;
pub use protocol::Protocol;
pub use route::{Binder, EventFilter, Route};
pub use table::Routing;
pub(crate) use table::{BoundRoutes, Found};
