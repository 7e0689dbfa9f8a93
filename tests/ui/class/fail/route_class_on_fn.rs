use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    route_class(ws_message, path = r"^/chat/$"),
}

fn main() {}
