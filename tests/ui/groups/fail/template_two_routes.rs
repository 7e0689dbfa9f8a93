use channels::prelude::*;

#[consumer(groups = ["room.{room}"])]
async fn join(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

channel_routing! {
    "websocket.connect", path = r"^/chat/(?P<room>\w+)/$" => join,
    "websocket.connect", path = r"^/lobby/$" => join,
}

fn main() {}
