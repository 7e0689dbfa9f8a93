use channels::prelude::*;

struct ItemConsumer {
    id: String,
}

#[consumer]
impl ItemConsumer {
    fn new(id: String) -> Self {
        ItemConsumer { id }
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text(self.id.clone()).await
    }
}

channel_routing! {
    pub fn websocket_urlpatterns;
    path("ws/items/<int:id>/", ItemConsumer.as_asgi()),
}

fn main() {}
