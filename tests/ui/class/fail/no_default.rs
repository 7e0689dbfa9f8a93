use channels::prelude::*;

struct ChatConsumer {
    room: String,
}

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text(self.room.clone()).await
    }
}

fn main() {}
