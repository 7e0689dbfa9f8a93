use channels::prelude::*;

#[derive(Default)]
struct Echo;

#[consumer]
impl Echo {
    async fn receive_json(&mut self, message: Message, content: serde_json::Value) -> Result<()> {
        message.reply_channel.send_json(&content).await
    }
}

fn main() {}
