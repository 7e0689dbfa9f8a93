use channels::prelude::*;

struct ChatConsumer {
    room: String,
}

#[consumer]
impl ChatConsumer {
    fn new(message: Message) -> Self {
        ChatConsumer { room: message.path().to_owned() }
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text(self.room.clone()).await
    }
}

channel_routing! {
    route_class(ChatConsumer, path = r"^/chat/$"),
}

fn main() {}
