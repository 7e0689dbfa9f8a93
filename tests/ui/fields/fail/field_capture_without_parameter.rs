use channels::prelude::*;

#[consumer]
async fn chat_join(message: Message) -> Result<()> {
    message.reply_channel.send_text("joined").await
}

channel_routing! {
    route("chat.receive", chat_join, command = r"^join$", room = r"^(?P<room>[a-z]+)$"),
}

fn main() {}
