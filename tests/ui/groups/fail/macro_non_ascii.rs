use channels::prelude::*;

async fn ws_add(message: Message) -> Result<()> {
    group!("salon.café").add(&message.reply_channel).await
}

fn main() {}
