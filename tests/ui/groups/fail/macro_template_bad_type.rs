use channels::prelude::*;

struct Room {
    name: String,
}

async fn ws_add(message: Message, room: Room) -> Result<()> {
    let _ = room.name;
    group!("room.{room}").add(&message.reply_channel).await
}

fn main() {}
