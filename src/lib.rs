//! # channels: Django Channels for Rust
//!
//! The README follows: the quick start (compiled as a doc test), the porting guide from `routing.py`, and
//! the semantics a Channels user relies on.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub use channels_macros::{channel_routing, consumer, group};
/// What a JSON consumer, a demultiplexed stream and a consumer's error mode need, at the root as
/// Channels has them (`channels.generic.websocket.JsonWebsocketConsumer`): `channels::Json`, ...
pub use channels_runtime::routing::{ErrorMode, Json, JsonWebsocketConsumer, Multiplexer};
pub use channels_runtime::*;

/// Everything a consumer and a routing file need: `use channels::prelude::*;`.
pub mod prelude {
    pub use channels_macros::{channel_routing, consumer, group};
    pub use channels_runtime::Scope;
    pub use channels_runtime::auth::{Middleware, Refusal};
    pub use channels_runtime::layer::{ChannelLayer, InMemoryLayer, LayerMessage};
    pub use channels_runtime::routing::{
        Consumer, ErrorMode, Json, JsonWebsocketConsumer, Multiplexer, Route, Routing,
    };
    pub use channels_runtime::{
        Channel, Content, Error, Group, HttpResponse, Message, ReplyChannel, Result, Server,
        ServerConfig, Session, Worker,
    };
    pub use serde_json::json;
}
