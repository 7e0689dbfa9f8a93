use channels::prelude::*;

#[derive(Default)]
struct Echo;

impl JsonWebsocketConsumer for Echo {}

#[consumer]
impl Echo {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("raw").await
    }

    async fn receive_json(&mut self, message: Message, content: serde_json::Value) -> Result<()> {
        message.reply_channel.send_json(&content).await
    }
}

fn main() {}
