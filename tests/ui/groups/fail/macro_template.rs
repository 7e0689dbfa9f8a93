use channels::prelude::*;

async fn ws_add(message: Message, room: &str) -> Result<()> {
    let _ = room;
    group!("room.{room}").add(&message.reply_channel).await
}

fn main() {}
