use channels::prelude::*;

#[consumer(atomic, atomic)]
async fn transfer(message: Message) -> Result<()> {
    message.reply_channel.send_text("done").await
}

fn main() {}
