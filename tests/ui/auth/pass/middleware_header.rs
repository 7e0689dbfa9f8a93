//! `middleware = expr;` in `channel_routing!`'s header: repeatable, beside `errors`, in both table forms
//! and with the Channels 2+ entries.
use channels::auth::{self, Refusal};
use channels::prelude::*;

#[consumer]
async fn ws_connect(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

#[derive(Default)]
struct Chat;

#[consumer]
impl Chat {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
    }
}

fn deny() -> impl Middleware {
    auth::from_fn("deny", |_| Err(Refusal::forbidden("closed")))
}

channel_routing! {
    pub fn v1_routing;
    middleware = auth::from_fn("allow", |_| Ok(()));
    errors = "keep_open";
    middleware = deny();
    route("websocket.connect", ws_connect),
}

channel_routing! {
    pub fn websocket_urlpatterns;
    middleware = deny();
    re_path(r"ws/chat/$", Chat.as_asgi()),
}

fn main() {
    let _ = v1_routing();
    let _ = websocket_urlpatterns();
    channel_routing! {
        let local;
        middleware = deny();
        route("websocket.connect", ws_connect),
    }
    let _ = local;
}
