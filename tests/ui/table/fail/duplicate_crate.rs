use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    crate = "channels";
    crate = "channels_runtime";
    "websocket.receive" => ws_message,
}

fn main() {
    let _ = channel_routing();
}
