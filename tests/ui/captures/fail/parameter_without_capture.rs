use channels::prelude::*;

#[consumer]
async fn room_message(message: Message, room: String) -> Result<()> {
    message.reply_channel.send_text(room).await
}

channel_routing! {
    "websocket.receive", path = r"^/chat/(?P<name>\w+)/$" => room_message,
}

fn main() {}
