use channels::prelude::*;

#[consumer]
async fn page(message: Message, page: u32) -> Result<()> {
    message.reply_channel.send_text(page.to_string()).await
}

channel_routing! {
    "websocket.receive", path = r"^/list/(?P<page>\d+)?$" => page,
}

fn main() {}
