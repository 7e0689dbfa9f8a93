use channels::prelude::*;

#[consumer]
async fn chat_join(message: Message) -> Result<()> {
    message.reply_channel.send_text("joined").await
}

#[consumer]
async fn chat_leave(message: Message) -> Result<()> {
    message.reply_channel.send_text("left").await
}

// Copied from a `join` route and not edited: both match `command = "join"`.
channel_routing! {
    route("chat.receive", chat_join, command = r"^join$"),
    route("chat.receive", chat_leave, command = r"^join$"),
}

fn main() {}
