use channels::prelude::*;

struct Handlers;

impl Handlers {
    #[consumer]
    async fn ws_message(message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

fn main() {}
