//! Run: `cargo run --release --example rooms -- --bind 127.0.0.1:8000`
//!
//! Regex paths with typed captures, checked at compile time:
//! - `/chat/<room>/` (`room` matches `[a-zA-Z0-9_]+`): a chat room. The connection joins the group
//!   `room.<room>` (a templated group declared on the consumer); each text T goes to that room only, as
//!   "[user] T".
//! - `/echo/<times>/` (`times: u32`): each text comes back `times` times. `/echo/abc/` and
//!   `/echo/99999999999/` don't parse as `u32`, so no route matches and the handshake gets 404.
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

#[consumer]
async fn echo_times(message: Message, times: u32) -> Result<()> {
    let Some(text) = message.content.text_bytes() else {
        return Ok(());
    };
    for _ in 0..times {
        message.reply_channel.send_text(text.clone()).await?;
    }
    Ok(())
}

channel_routing! {
    "websocket.connect", path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$" => chat_join,
    "websocket.receive", path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$" => chat_message,
    "websocket.receive", path = r"^/echo/(?P<times>[0-9]+)/$" => echo_times,
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    common::serve(channel_routing()).await
}
