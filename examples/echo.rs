//! Run: `cargo run --release --example echo -- --bind 127.0.0.1:8000`
//!
//! The seed's first program: every text frame comes back as the same text, every binary frame as the
//! same bytes, on any path.
use channels::prelude::*;

mod common;

// def ws_message(message):
//     message.reply_channel.send({"text": message.content['text']})
#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    if let Some(text) = message.content.text_bytes() {
        message.reply_channel.send_text(text.clone()).await
    } else if let Some(bytes) = message.bytes() {
        message.reply_channel.send_bytes(bytes.clone()).await
    } else {
        Ok(())
    }
}

// channel_routing = [
//     route("websocket.receive", ws_message),
// ]
channel_routing! {
    route("websocket.receive", ws_message),
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    common::serve(channel_routing()).await
}
