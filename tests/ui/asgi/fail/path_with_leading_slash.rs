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
    pub fn websocket_urlpatterns;
    path("/ws/notification/", ChatConsumer.as_asgi()),
}

fn main() {}
