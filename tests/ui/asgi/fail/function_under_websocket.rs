use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    ProtocolTypeRouter({
        "websocket": URLRouter([path("ws/", ws_message)]),
    })
}

fn main() {}
