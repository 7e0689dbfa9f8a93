use channels::prelude::*;

#[consumer(groups = ["chat", "chat"])]
async fn join(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

fn main() {}
