use channels::prelude::*;

#[consumer]
async fn pair(message: Message, id: String) -> Result<()> {
    message.reply_channel.send_text(id).await
}

channel_routing! {
    "websocket.receive", path = r"^/(?P<id>\d+)/(?P<id>\d+)/$" => pair,
}

fn main() {}
