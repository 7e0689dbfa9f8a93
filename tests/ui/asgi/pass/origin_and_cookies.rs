//! `AllowedHostsOriginValidator(X)` and `CookieMiddleware(X)` compile as `X`: the server checks the Origin
//! of every WebSocket handshake and parses cookies on every connection. The Rust that the refused wrappers'
//! messages give, a `middleware = ...;` header on the table a `URLRouter` names, compiles too.
use channels::auth::HttpSessionMiddleware;
use channels::prelude::*;
use channels::session::MemorySessionStore;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message) -> Result<()> {
        let session = message.content.cookie("sessionid").unwrap_or("none").to_owned();
        message.reply_channel.send_text(session).await
    }
}

#[consumer]
async fn index(message: Message) -> Result<()> {
    message.reply_channel.respond(HttpResponse::text("index")).await
}

mod chat {
    use super::*;

    channel_routing! {
        pub fn websocket_urlpatterns;
        middleware = HttpSessionMiddleware::new(MemorySessionStore::default());
        [re_path(r"ws/chat/$", ChatConsumer.as_asgi())]
    }
}

channel_routing! {
    ProtocolTypeRouter({
        "websocket": AllowedHostsOriginValidator(CookieMiddleware(
            URLRouter(chat::websocket_urlpatterns)
        )),
        "http": CookieMiddleware(URLRouter([path("", index)])),
    })
}

fn main() {
    let routing = channel_routing();
    assert_eq!(
        routing.resolve("websocket.receive", "/ws/chat/").map(|c| c.name()),
        chat::websocket_urlpatterns()
            .resolve("websocket.receive", "ws/chat/")
            .map(|c| c.name()),
    );
    assert!(routing.resolve("websocket.receive", "/ws/chat/").is_some());
    assert!(routing.resolve("http.request", "/").is_some());
    assert!(routing.resolve("websocket.receive", "/elsewhere/").is_none());
}
