use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    pub fn chat_routing;
    pub fn lobby_routing;
    "websocket.receive" => ws_message,
}

fn main() {
    let _ = chat_routing();
}
