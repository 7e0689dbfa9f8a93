use channels::prelude::*;

async fn ws_add(message: Message) -> Result<()> {
    group!("room.{room}").add(&message.reply_channel).await
}

fn main() {}
