use channels::prelude::*;

#[consumer]
async fn ws_message<T: Default>(message: Message) -> Result<()> {
    let _ = T::default();
    message.reply_channel.send_text("hi").await
}

fn main() {}
