use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

#[derive(Default)]
struct RoomConsumer;

#[consumer]
impl RoomConsumer {}

channel_routing! {
    pub fn websocket_urlpatterns;
    re_path(r"^ws/", ChatConsumer.as_asgi()),
    path("ws/room/", RoomConsumer.as_asgi()),
}

fn main() {}
