use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn _secret(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

fn main() {}
