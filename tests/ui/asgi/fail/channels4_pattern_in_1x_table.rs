use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

// A Channels 4 pattern pasted into a Channels 1.x table: the path there starts with `/`.
channel_routing! {
    route_class(ChatConsumer, path = r"ws/chat/(?P<room_name>\w+)/$"),
}

fn main() {}
