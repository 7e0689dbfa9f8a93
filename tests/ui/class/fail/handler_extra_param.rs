use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message, room: String) -> Result<()> {
        message.reply_channel.send_text(room).await
    }
}

fn main() {}
