use channels::prelude::*;

#[consumer]
async fn pair(message: Message, (a, b): (u32, u32)) -> Result<()> {
    message.reply_channel.send_text(format!("{a}{b}")).await
}

fn main() {}
