use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message, other: &Message) -> Result<()> {
    let _ = other;
    message.reply_channel.send_text("hi").await
}

fn main() {}
