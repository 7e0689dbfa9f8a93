use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    "websocket.receive" => ws_mesage,
}

fn main() {}
