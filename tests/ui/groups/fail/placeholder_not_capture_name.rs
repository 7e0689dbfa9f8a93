use channels::prelude::*;

#[consumer(groups = ["room.{room-id}"])]
async fn join(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

fn main() {}
