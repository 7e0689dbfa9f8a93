use channels::prelude::*;

#[consumer(groups = ["room}"])]
async fn join(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

fn main() {}
