use channels::prelude::*;

async fn ws_add(message: Message, name: &str) -> Result<()> {
    group!(name).add(&message.reply_channel).await
}

fn main() {}
