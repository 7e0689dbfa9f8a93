use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    #[helper]
    async fn connect(&mut self, message: Message) -> Result<()> {
        message.reply_channel.accept().await
    }
}

fn main() {}
