use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    "websocket.receive", path = r"^/chat/$", path = r"^/lobby/$" => ws_message,
}

fn main() {}
