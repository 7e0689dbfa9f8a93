//! Every entry form of `channel_routing!` compiles.
#![deny(warnings, missing_docs)]
use channels::prelude::*;

#[consumer]
async fn ws_add(message: Message) -> Result<()> {
    message.reply_channel.accept().await?;
    group!("chat").add(&message.reply_channel).await
}

#[consumer]
fn ws_sync(message: Message) -> Result<()> {
    message.reply_channel.send_text_blocking("hi")
}

#[consumer]
async fn room_message(message: &Message, room: String) {
    let _ = (message, room);
}

#[consumer]
async fn echo_times(message: Message, times: u32, session: Session) -> Result<()> {
    session.set("times", json!(times));
    message.reply_channel.send_text(message.text().unwrap_or_default().repeat(times as usize)).await
}

#[consumer(groups = ["chat", "room.{room}"])]
async fn chat_join(message: Message, room: String) -> Result<()> {
    let _ = room;
    message.reply_channel.accept().await
}

#[consumer(atomic)]
async fn transfer(message: Message) -> Result<()> {
    message.reply_channel.send_text("debited").await?;
    message.reply_channel.send_text("credited").await
}

#[consumer]
fn make_thumbnail(message: Message) -> std::result::Result<(), String> {
    let _ = message.content.payload();
    Ok(())
}

#[derive(serde::Deserialize)]
struct ChatMessage {
    text: String,
}

struct ChatConsumer {
    room: String,
}

#[consumer(groups = ["room.{room}"])]
impl ChatConsumer {
    fn new(room: String) -> Self {
        ChatConsumer { room }
    }
    async fn receive(&mut self, message: Message) -> Result<()> {
        Group::new(format!("room.{}", self.room))?
            .send(json!({"type": "chat.message", "text": message.text()}))
            .await
    }
    async fn chat_message(&mut self, message: Message, event: ChatMessage) -> Result<()> {
        message.reply_channel.send_text(event.text).await
    }
}

mod admin {
    use channels::prelude::*;

    #[consumer]
    pub fn stats(message: Message) -> Result<()> {
        message.reply_channel.send_text_blocking("ok")
    }

    channel_routing! {
        /// The admin tables.
        pub fn routing;
        "websocket.receive", path = r"^/stats/$" => stats,
    }
}

channel_routing! {
    "websocket.connect", path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$" => chat_join,
    route("websocket.receive", room_message, path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$"),
    "websocket.receive", path = r"^/echo/(?P<times>\d+)/$" => echo_times,
    route_class(ChatConsumer, path = r"^/rooms/(?P<room>\w+)/$"),
    include(admin::routing, path = r"^/admin"),
    "thumbnails.generate" => make_thumbnail,
    "websocket.receive", path = r"^/transfer/$" => transfer,
    "websocket.connect" => ws_add,
    route("websocket.receive", ws_sync),
}

fn main() {
    let routing = channel_routing();
    assert!(routing.errors().is_empty());
    assert_eq!(routing.custom_channels().len(), 1);
}
