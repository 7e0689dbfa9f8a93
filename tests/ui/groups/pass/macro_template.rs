//! `group!("room.{room}")` fills placeholders from variables in scope: a parameter, a local, an integer.
use channels::prelude::*;

async fn ws_add(message: Message, room: &str) -> Result<()> {
    let _ = room;
    group!("room.{room}").add(&message.reply_channel).await
}

#[consumer]
async fn join(message: Message, room: String, id: u32) -> Result<()> {
    // `room` is a path capture: `channel_routing!` checks its pattern instead of the run time.
    group!("room.{room}").add(&message.reply_channel).await?;
    let seat = id + 1;
    group!("room.{room}.seat.{seat}").add(&message.reply_channel).await
}

channel_routing! {
    "websocket.connect", path = r"^/rooms/(?P<room>[a-zA-Z0-9_.-]+)/(?P<id>\d+)/$" => join,
    "websocket.connect", path = r"^/slugs/(?P<room>(?-u:\w)+)/(?P<id>[0-9]+)/$" => join,
}

fn main() {
    let _ = ws_add;
    let _ = channel_routing();
}
