//! Run: `cargo run --release --example rooms -- --bind 127.0.0.1:8000`
//!
//! Regex paths with typed captures, checked at compile time:
//! - `/chat/<room>/` (`room` matches `[a-zA-Z0-9_]+`): a chat room. The connection joins the group
//!   `room.<room>` (a templated group declared on the consumer); each text T goes to that room only, as
//!   "[user] T".
//! - `/echo/<times>/` (`times: u32`): each text comes back `times` times, for `times` up to
//!   [`MAX_ECHO_TIMES`] (100); more is refused at the handshake (403), so that no client can turn the
//!   server into an amplifier (1 KB in, 4 TB out for `times = 4294967295`). `/echo/abc/` and
//!   `/echo/99999999999/` don't parse as `u32`, so no route matches and the handshake gets 404.
//!
//! It also sets the limits a public server would (see [`limits`]): smaller messages than the default,
//! a cap on connections, a maximum lifetime. The command line's flags (`--max-connections` ...) override
//! them.
use channels::prelude::*;

mod common;

// Channels 4: `groups = ["room_" + room]` on a consumer. Here the group is declared with a template that
// the compiler checks against the route's captures; the connection joins it before `chat_join` runs and
// leaves it when it closes, whatever ends it.
#[consumer(groups = ["room.{room}"])]
async fn chat_join(message: Message, room: String) -> Result<()> {
    tracing::info!(%room, "joined");
    message.reply_channel.accept().await
}

// def chat_message(message, room):
//     Group("room.%s" % room).send({"text": "[user] %s" % message.content['text']})
#[consumer]
async fn chat_message(message: Message, room: String) -> Result<()> {
    let Some(text) = message.text() else {
        return Ok(());
    };
    let relayed = Group::new(format!("room.{room}"))?
        .send(json!({"text": format!("[user] {text}")}))
        .await;
    if let Err(error) = relayed {
        // The layer gave up (Redis unreachable past its send timeout): keep the client, tell it.
        tracing::warn!(%room, %error, "room message not relayed");
        message
            .reply_channel
            .send_text("[system] your message was not delivered; try again")
            .await?;
    }
    Ok(())
}

/// The most copies `/echo/<times>/` sends back: a client's one message never costs the server more than
/// this many sends.
pub const MAX_ECHO_TIMES: u32 = 100;

// Refused before the socket opens: a client can't even ask for more than `MAX_ECHO_TIMES` copies.
#[consumer]
async fn echo_join(message: Message, times: u32) -> Result<()> {
    if times > MAX_ECHO_TIMES {
        tracing::info!(
            times,
            max = MAX_ECHO_TIMES,
            "echo refused: too many copies asked for"
        );
        return message.reply_channel.reject().await;
    }
    message.reply_channel.accept().await
}

#[consumer]
async fn echo_times(message: Message, times: u32) -> Result<()> {
    let Some(text) = message.content.text_bytes() else {
        return Ok(());
    };
    // Checked again where the copies are made: this consumer could be routed without `echo_join`.
    for _ in 0..times.min(MAX_ECHO_TIMES) {
        message.reply_channel.send_text(text.clone()).await?;
    }
    Ok(())
}

channel_routing! {
    "websocket.connect", path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$" => chat_join,
    "websocket.receive", path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$" => chat_message,
    "websocket.connect", path = r"^/echo/(?P<times>[0-9]+)/$" => echo_join,
    "websocket.receive", path = r"^/echo/(?P<times>[0-9]+)/$" => echo_times,
}

/// The limits a chat open to the internet would set, beside `ServerConfig`'s defaults (which already
/// bound header bytes, handshake time, pings and per-client buffers): chat lines are short, so 64 KiB
/// messages; at most 10,000 sockets (about 50 MB of connection state); and every socket reconnects
/// within a day, so servers can be drained and clients re-checked.
pub fn limits() -> ServerConfig {
    ServerConfig::default()
        .max_message_size(64 << 10)
        .max_frame_size(64 << 10)
        .max_connections(10_000)
        .max_lifetime(std::time::Duration::from_secs(24 * 3600))
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    common::serve_with(channel_routing(), limits()).await
}
