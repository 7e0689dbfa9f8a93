use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

#[derive(Default)]
struct Everything;

#[consumer]
impl Everything {}

channel_routing! {
    route_class(Everything),
    "websocket.receive", path = r"^/chat/$" => ws_message,
}

fn main() {}
