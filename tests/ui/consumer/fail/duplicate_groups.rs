use channels::prelude::*;

#[consumer(groups = ["chat"], groups = ["lobby"])]
async fn join(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

fn main() {}
