use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

struct ChatConsumer;

channel_routing! {
    route_class(ChatConsumer, path = r"^/rooms/$"),
}

fn main() {}
