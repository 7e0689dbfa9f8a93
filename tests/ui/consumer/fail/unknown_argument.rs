use channels::prelude::*;

#[consumer(group = ["chat"])]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

fn main() {}
