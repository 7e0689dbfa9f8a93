use channels::prelude::*;

#[consumer]
async fn join(message: Message, room: String) -> Result<()> {
    group!("room.{room}").add(&message.reply_channel).await
}

channel_routing! {
    route("chat.join", join, room = r"^(?P<room>.+)$"),
}

fn main() {}
