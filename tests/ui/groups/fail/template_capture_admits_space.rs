use channels::prelude::*;

#[consumer]
async fn join(message: Message, room: String) -> Result<()> {
    group!("room.{room}").add(&message.reply_channel).await
}

channel_routing! {
    "websocket.connect", path = r"^/rooms/(?P<room>[^/]+)/$" => join,
}

fn main() {}
