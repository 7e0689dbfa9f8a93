//! Run: `cargo run --release --example chat -- --bind 127.0.0.1:8000`, then open http://127.0.0.1:8000/
//! in two browser windows.
//!
//! The seed's Group chat: every WebSocket joins group "chat"; each text T goes to every member, the sender
//! included, as "[user] T"; a closed connection leaves the group. `GET /` serves the test page.
use channels::prelude::*;

mod common;

/// The seed's test page, adapted to show messages in the page and to send from a box.
const PAGE: &str = include_str!("static/chat.html");

// def ws_add(message):
//     message.reply_channel.send({"accept": True})
//     Group("chat").add(message.reply_channel)
#[consumer]
async fn ws_add(message: Message) -> Result<()> {
    message.reply_channel.send(json!({"accept": true})).await?;
    group!("chat").add(&message.reply_channel).await
}

// def ws_message(message):
//     Group("chat").send({"text": "[user] %s" % message.content['text']})
#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    let Some(text) = message.text() else {
        return Ok(()); // binary frames have no text to relay
    };
    let relayed = group!("chat")
        .send(json!({"text": format!("[user] {text}")}))
        .await;
    if let Err(error) = relayed {
        // The layer gave up (Redis unreachable past its send timeout): keep the client, tell it.
        tracing::warn!(%error, "chat message not relayed");
        message
            .reply_channel
            .send_text("[system] your message was not delivered; try again")
            .await?;
    }
    Ok(())
}

// def ws_disconnect(message):
//     Group("chat").discard(message.reply_channel)
#[consumer]
async fn ws_disconnect(message: Message) -> Result<()> {
    group!("chat").discard(&message.reply_channel).await
}

#[consumer]
async fn index(message: Message) -> Result<()> {
    message
        .reply_channel
        .respond(HttpResponse::html(PAGE))
        .await
}

// channel_routing = [
//     route("websocket.connect", ws_add),
//     route("websocket.receive", ws_message),
//     route("websocket.disconnect", ws_disconnect),
// ]
channel_routing! {
    route("websocket.connect", ws_add),
    route("websocket.receive", ws_message),
    route("websocket.disconnect", ws_disconnect),
    "http.request", path = r"^/$" => index,
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    common::serve(channel_routing()).await
}
