//! # channels: Django Channels for Rust
//!
//! WebSocket consumers, reply channels, groups and channel layers, with the route table checked by the
//! compiler. See the README for the quick start and the porting guide from `routing.py`.
//!
//! ```no_run
//! use channels::prelude::*;
//!
//! async fn ws_message(message: Message) -> Result<()> {
//!     message.reply_channel.send(json!({"text": message.content["text"]})).await
//! }
//! ```
#![deny(missing_docs)]

pub use channels_macros::{channel_routing, consumer, group};
pub use channels_runtime::*;

/// Everything a consumer and a routing file need: `use channels::prelude::*;`.
pub mod prelude {
    pub use channels_macros::{channel_routing, consumer, group};
    pub use channels_runtime::layer::{ChannelLayer, InMemoryLayer, LayerMessage};
    pub use channels_runtime::routing::{Consumer, Route, Routing};
    pub use channels_runtime::{
        Channel, Content, Error, Group, HttpResponse, Message, ReplyChannel, Result, Server,
        ServerConfig, Session, Worker,
    };
    pub use serde_json::json;
}
