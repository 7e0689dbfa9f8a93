use channels::prelude::*;

#[consumer]
async fn tags(message: Message, tag: String) -> Result<()> {
    message.reply_channel.send_text(tag).await
}

channel_routing! {
    "websocket.receive", path = r"^/tags(?:/(?P<tag>\w+))*/$" => tags,
}

fn main() {}
