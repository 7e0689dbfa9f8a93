use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

channel_routing! {
    ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": URLRouter([re_path(r"ws/chat/$", ChatConsumer.as_asgi())]),
    })
}

fn main() {}
