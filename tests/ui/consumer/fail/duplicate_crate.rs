use channels::prelude::*;

#[consumer(crate = "channels", crate = "channels_runtime")]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

fn main() {}
