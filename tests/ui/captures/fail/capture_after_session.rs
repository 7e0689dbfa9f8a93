use channels::prelude::*;

#[consumer]
async fn room_message(message: Message, session: Session, room: String) -> Result<()> {
    session.set("room", json!(room));
    message.reply_channel.accept().await
}

fn main() {}
