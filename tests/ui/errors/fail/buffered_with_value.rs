use channels::prelude::*;

#[consumer(buffered = true)]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

fn main() {}
