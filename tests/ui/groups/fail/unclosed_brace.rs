use channels::prelude::*;

#[consumer(groups = ["room.{room"])]
async fn join(message: Message, room: String) -> Result<()> {
    let _ = room;
    message.reply_channel.accept().await
}

fn main() {}
