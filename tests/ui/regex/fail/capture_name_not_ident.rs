use channels::prelude::*;

#[consumer]
async fn room(message: Message, room_id: String) -> Result<()> {
    message.reply_channel.send_text(room_id).await
}

channel_routing! {
    "websocket.receive", path = r"^/chat/(?P<room.id>\w+)/$" => room,
}

fn main() {}
