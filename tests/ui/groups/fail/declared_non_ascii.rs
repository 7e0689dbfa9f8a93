use channels::prelude::*;

#[consumer(groups = ["salon.café"])]
async fn join(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

fn main() {}
