use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

#[consumer]
async fn other(message: Message) -> Result<()> {
    message.reply_channel.send_text("other").await
}

channel_routing! {
    "websocket.receive", path = r"^/chat/$" => ws_message,
    "websocket.receive", path = r"^/chat/$" => other,
}

fn main() {}
