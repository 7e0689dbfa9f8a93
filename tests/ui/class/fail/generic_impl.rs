use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer<T> {
    state: T,
}

#[consumer]
impl<T: Send + 'static> ChatConsumer<T> {
    async fn receive(&mut self, message: Message) -> Result<()> {
        let _ = &self.state;
        message.reply_channel.send_text("hi").await
    }
}

fn main() {}
