//! `channels-runtime` and `channels-macros` without the `channels` facade: `crate = "..."` says where
//! the runtime is, for `#[consumer]` (functions and classes) and `channel_routing!`.
#![deny(warnings)]
use channels_macros::{channel_routing, consumer};
use channels_runtime::routing::Routing;
use channels_runtime::{Message, Result, Session};

#[consumer(crate = "channels_runtime", groups = ["room.{room}"])]
async fn room_message(message: Message, room: String, session: Session) -> Result<()> {
    session.set("room", serde_json::json!(room));
    message.reply_channel.send_text(room).await
}

#[consumer(crate = "channels_runtime", atomic)]
async fn transfer(message: Message) -> Result<()> {
    message.reply_channel.send_text("done").await
}

#[derive(Default)]
struct Counter {
    count: u32,
}

#[consumer(crate = "::channels_runtime")]
impl Counter {
    fn receive(&mut self, message: Message) -> Result<()> {
        self.count += 1;
        message
            .reply_channel
            .send_text_blocking(self.count.to_string())
    }
}

channel_routing! {
    crate = "channels_runtime";
    "websocket.receive", path = r"^/rooms/(?P<room>\w+)/$" => room_message,
    "websocket.receive", path = r"^/transfer/$" => transfer,
    route_class(Counter, path = r"^/count/$"),
}

fn main() {
    let routing: Routing = channel_routing();
    assert!(routing.errors().is_empty());
    assert_eq!(
        routing
            .resolve("websocket.receive", "/rooms/a/")
            .map(|c| c.name()),
        Some("room_message")
    );
    assert_eq!(
        routing
            .resolve("websocket.receive", "/count/")
            .map(|c| c.name()),
        Some("Counter")
    );
    let group = channels_runtime::group!("lobby");
    assert_eq!(group.name(), "lobby");
}
