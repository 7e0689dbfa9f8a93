//! A `Json<T>` parameter (taken apart or not), a sync one, and a class with `receive_json` in both
//! signatures, routed in both table styles.
use channels::prelude::*;

#[derive(serde::Deserialize)]
struct ChatIn {
    message: String,
}

#[consumer]
async fn chat(message: Message, Json(ChatIn { message: text }): Json<ChatIn>, session: Session) -> Result<()> {
    session.set("last", json!(text));
    message.reply_channel.send_json(&json!({"message": text})).await
}

#[consumer(errors = "keep_open")]
fn sync_chat(message: Message, chat: Json<serde_json::Value>) -> Result<()> {
    message.reply_channel.send_json_blocking(&*chat)
}

#[derive(Default)]
struct Echo;

impl JsonWebsocketConsumer for Echo {}

#[consumer(errors = "keep_open")]
impl Echo {
    async fn receive_json(&mut self, content: serde_json::Value) -> Result<()> {
        let _ = content;
        Ok(())
    }
}

#[derive(Default)]
struct Typed;

impl JsonWebsocketConsumer for Typed {}

#[consumer]
impl Typed {
    fn receive_json(&mut self, message: &Message, content: ChatIn) -> Result<()> {
        self.send_json_blocking(&message.reply_channel, &json!({"message": content.message}))
    }
}

channel_routing! {
    errors = "close";
    "websocket.receive", path = r"^/chat/$" => chat,
    "websocket.receive", path = r"^/sync/$" => sync_chat,
    route_class(Echo, path = r"^/echo/$"),
    route_class(Typed, path = r"^/typed/$"),
}

mod v2 {
    use super::*;

    channel_routing! {
        pub fn websocket_urlpatterns;
        errors = "keep_open";
        re_path(r"ws/echo/$", Echo.as_asgi()),
    }
}

fn main() {
    let _ = channel_routing();
    let _ = v2::websocket_urlpatterns();
}
