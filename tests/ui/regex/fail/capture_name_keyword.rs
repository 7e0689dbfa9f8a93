use channels::prelude::*;

#[consumer]
async fn by_kind(message: Message, kind: String) -> Result<()> {
    message.reply_channel.send_text(kind).await
}

channel_routing! {
    "websocket.receive", path = r"^/by/(?P<type>\w+)/$" => by_kind,
}

fn main() {}
