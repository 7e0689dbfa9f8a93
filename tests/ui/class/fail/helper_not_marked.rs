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
        let group = Group::new(self.room_group(&message))?;
        group.add(&message.reply_channel).await
    }

    // A helper without `#[helper]`: taken for the handler of `room.group` events.
    fn room_group(&mut self, _message: &Message) -> String {
        format!("room.{}", self.room)
    }
}

channel_routing! {
    route_class(ChatConsumer, path = r"^/chat/(?P<room>\w+)/$"),
}

fn main() {}
