use channels::prelude::*;

mod consumers {
    use channels::prelude::*;

    pub async fn ws_message(message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

channel_routing! {
    "websocket.receive", path = r"^/chat/$" => consumers::ws_message,
}

fn main() {}
