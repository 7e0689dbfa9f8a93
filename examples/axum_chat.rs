//! Run: `cargo run --release --example axum_chat --features axum -- --bind 127.0.0.1:8000`, then open
//! http://127.0.0.1:8000/ in two browser windows; `curl http://127.0.0.1:8000/health` answers `ok`.
//!
//! The `chat` example inside an axum app: axum answers `GET /health` itself and hands every other
//! request to the chat's routing table (examples/chat.rs, unchanged), mounted as the router's fallback:
//! the page at `/`, and every WebSocket path joins group "chat". Stops on Ctrl-C or SIGTERM: axum
//! stops serving HTTP, then the chat's sockets are closed with 1001 and leave the group.
#![allow(clippy::duplicate_mod)] // `common`, once here and once in `chat`, as in each example binary

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use channels::axum::ChannelsService;
use clap::Parser;

// Public for the tests, which build the app with the example's own options.
pub mod common;

/// The `chat` example's routing table and page, reused as they ship (its `main` is not used here).
#[path = "chat.rs"]
#[allow(dead_code)]
mod chat;

/// The app: axum's own route, and the chat's routing table for everything else. The table is the
/// fallback, so its `http.request` route serves `/` and a WebSocket on any path reaches it.
pub fn app(channels: ChannelsService) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback_service(channels)
}

/// `GET /health`: a plain axum handler beside the chat.
async fn health() -> &'static str {
    "ok"
}

/// The chat's routing table as a service, with the limits and the layer the options ask for
/// (`--allowed-origin`, `--max-connections`, the pings, `--redis`). `--handshake-timeout-ms` is not
/// this service's: the HTTP connection, and so its head's timeout, is `axum::serve`'s.
pub async fn chat_service(
    args: &common::Args,
) -> Result<ChannelsService, Box<dyn std::error::Error>> {
    let server = args.server(chat::channel_routing()).await?;
    Ok(server.into_axum_service()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::Args::parse();
    common::init_logging();
    let channels = chat_service(&args).await?;
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!("Listening on http://{}/", listener.local_addr()?);
    // With connect info, the chat's consumers see each client's address.
    let service = app(channels.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shutting down");
    // Upgraded sockets are no longer axum's: close them (1001) and let their disconnect consumers run.
    channels.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Completes at Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; stop with Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
