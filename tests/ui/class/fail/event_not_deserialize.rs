use channels::prelude::*;

struct ChatMessage {
    text: String,
}

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn chat_message(&mut self, message: Message, event: ChatMessage) -> Result<()> {
        message.reply_channel.send_text(event.text).await
    }
}

fn main() {}
