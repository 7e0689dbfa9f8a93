use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

#[consumer]
async fn chat(message: Message) -> Result<()> {
    message.reply_channel.send_text("chat").await
}

channel_routing! {
    "websocket.receive" => ws_message,
    route("websocket.receive", chat, path = r"^/chat/$"),
}

fn main() {}
