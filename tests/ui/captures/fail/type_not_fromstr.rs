use channels::prelude::*;

#[derive(Clone)]
struct Room {
    name: String,
}

#[consumer]
async fn room_message(message: Message, room: Room) -> Result<()> {
    message.reply_channel.send_text(room.name).await
}

fn main() {}
