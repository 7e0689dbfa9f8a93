use channels::prelude::*;

struct Chat;

impl Chat {
    #[consumer]
    async fn ws_message(&self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

fn main() {}
