use channels::prelude::*;

#[derive(Default)]
struct Echo;

impl JsonWebsocketConsumer for Echo {}

#[consumer]
impl Echo {
    async fn receive_json(
        &mut self,
        message: Message,
        content: serde_json::Value,
        extra: u32,
    ) -> Result<()> {
        let _ = (content, extra);
        message.reply_channel.send_text("hi").await
    }
}

fn main() {}
