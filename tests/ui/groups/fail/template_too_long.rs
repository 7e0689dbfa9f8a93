use channels::prelude::*;

#[consumer(groups = ["room.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.{room}"])]
async fn join(message: Message, room: String) -> Result<()> {
    let _ = room;
    message.reply_channel.accept().await
}

fn main() {}
