use channels::prelude::*;

struct ChatConsumer {
    room: String,
}

#[consumer]
impl ChatConsumer {
    fn new(room: String) -> Self {
        ChatConsumer { room }
    }
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text(self.room.clone()).await
    }
}

channel_routing! {
    route_class(ChatConsumer, path = r"^/rooms/$"),
}

fn main() {}
