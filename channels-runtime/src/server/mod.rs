//! [`Server`]: HTTP/1.1 and WebSocket on one port, driven by a route table.
//!
//! ```no_run
//! use channels_runtime::{routing::{Consumer, Route, Routing}, Message, Result, Server};
//!
//! async fn echo(message: Message) -> Result<()> {
//!     match message.text() {
//!         Some(text) => message.reply_channel.send_text(text.to_owned()).await,
//!         None => Ok(()),
//!     }
//! }
//!
//! # async fn run() -> std::result::Result<(), channels_runtime::ServerError> {
//! let routing = Routing::new().route(Route::to("websocket.receive", None, Consumer::from_async("echo", echo)));
//! Server::new(routing).run("127.0.0.1:8000").await
//! # }
//! ```
//!
//! The parts: `listen` (the [`Server`] builder and the accept loop), `service` (one HTTP request or
//! handshake), `connection` (one WebSocket, from upgrade to disconnect), `worker` ([`Worker`]: custom
//! channels), `handle` ([`ServerHandle`]), `state` (what a server's connections share).

#[cfg(feature = "axum")]
pub mod axum;
mod bindings;
mod config;
mod connection;
mod handle;
mod invoke;
mod limits;
mod listen;
mod listener;
mod observe;
pub mod origin;
pub mod proxy;
mod service;
mod state;
#[cfg(feature = "tls")]
mod tls;
mod worker;

pub use config::{ServerConfig, SlowClientPolicy};
pub use handle::{ServerHandle, SlowClientStats};
pub use listen::Server;
pub use origin::{OriginError, OriginPattern};
pub use proxy::{ProxyError, TrustedProxy};
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsError};
pub use worker::Worker;

pub(crate) use connection::builtin_action;
pub(crate) use state::{Shared, Shutdown, Tracker, TrackerGuard, leave_groups};

use crate::routing::RoutingError;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The route table has invalid entries (only possible for tables built by hand; the macros check at
    /// compile time).
    #[error("invalid routing: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Routing(Vec<RoutingError>),
    /// The address could not be bound or read.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}
