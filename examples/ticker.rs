//! Run: `cargo run --release --example ticker -- --bind 127.0.0.1:8000 --interval-ms 100`, then open
//! http://127.0.0.1:8000/ (or connect any WebSocket client to `/ticks/` or `/countdown/5/`).
//!
//! The answer to the seed's open problem ("only when the consumer function finished were all the messages
//! sent"): a background task pushes to a group on a timer, and a consumer loops, sleeping between sends;
//! every message leaves at once. No browser timer, no polling.
use std::time::Duration;

use channels::prelude::*;
use clap::Parser;

mod common;

const PAGE: &str = include_str!("static/ticker.html");

#[derive(Debug, Parser)]
struct TickerArgs {
    #[command(flatten)]
    common: common::Args,
    /// Milliseconds between two ticks.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
}

#[consumer]
async fn join_ticks(message: Message) -> Result<()> {
    message.reply_channel.accept().await?;
    group!("ticks").add(&message.reply_channel).await
}

#[consumer]
async fn leave_ticks(message: Message) -> Result<()> {
    group!("ticks").discard(&message.reply_channel).await
}

/// On "start", counts down from `n`: `n` messages, "n-1" ... "0", one every 50 ms, from ONE consumer
/// invocation. Each message reaches the client as it is sent, not when the consumer returns.
#[consumer]
async fn countdown(message: Message, n: u32) -> Result<()> {
    if message.text() != Some("start") {
        return Ok(());
    }
    for i in (0..n).rev() {
        message.reply_channel.send_text(i.to_string()).await?;
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

#[consumer]
async fn index(message: Message) -> Result<()> {
    message
        .reply_channel
        .respond(HttpResponse::html(PAGE))
        .await
}

channel_routing! {
    "websocket.connect", path = r"^/ticks/$" => join_ticks,
    "websocket.disconnect", path = r"^/ticks/$" => leave_ticks,
    "websocket.receive", path = r"^/countdown/(?P<n>[0-9]+)/$" => countdown,
    "http.request", path = r"^/$" => index,
}

/// Sends `{"tick": n, "at_ms": <unix ms>}` to group "ticks" every `interval`, listeners or not. This runs
/// outside any consumer: it only needs the group (and the layer it lives on).
pub async fn tick_forever(ticks: Group, interval: Duration) {
    common::ticks::every(interval, |n, at_ms| {
        let ticks = ticks.clone();
        async move { ticks.send_json(&json!({"tick": n, "at_ms": at_ms})).await }
    })
    .await
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = TickerArgs::parse();
    common::init_logging();
    let server = args
        .common
        .layer_for(Server::new(channel_routing()))
        .await?;
    let ticks = group!("ticks").with_layer(server.layer());
    tokio::spawn(tick_forever(
        ticks,
        Duration::from_millis(args.interval_ms.max(1)),
    ));
    server.run(&args.common.bind).await?;
    Ok(())
}

/// clap checks its options only when they are parsed, and in debug builds: catch a clash here, in the
/// integration tests that compile this example as a module.
#[cfg(test)]
#[test]
fn options_do_not_clash() {
    use clap::CommandFactory;
    TickerArgs::command().debug_assert();
}
