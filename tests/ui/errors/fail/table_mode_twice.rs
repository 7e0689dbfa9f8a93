use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    errors = "close";
    errors = "keep_open";
    "websocket.receive" => ws_message,
}

fn main() {}
