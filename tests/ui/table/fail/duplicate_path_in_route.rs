use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    route("websocket.receive", ws_message, path = r"^/chat/$", path = r"^/lobby/$"),
}

fn main() {}
