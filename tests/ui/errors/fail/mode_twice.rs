use channels::prelude::*;

#[consumer(errors = "close", errors = "keep_open")]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

fn main() {}
