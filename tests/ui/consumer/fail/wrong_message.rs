use channels::prelude::*;

#[consumer]
async fn room_message(room: String, message: Message) -> Result<()> {
    message.reply_channel.send_text(room).await
}

fn main() {}
