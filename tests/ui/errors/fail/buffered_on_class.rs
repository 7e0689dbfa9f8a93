use channels::prelude::*;

#[derive(Default)]
struct Chat;

#[consumer(buffered)]
impl Chat {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

fn main() {}
