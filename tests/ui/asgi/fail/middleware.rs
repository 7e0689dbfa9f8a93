//! Channels' auth and session wrappers need Rust values (Django's settings, a session store): each is
//! refused with the `middleware = ...;` header to write, in the table the `URLRouter` names or in this one.
use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {
    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text("hi").await
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
        [re_path(r"ws/chat/$", ChatConsumer.as_asgi())]
    }
}

channel_routing! {
    ProtocolTypeRouter({
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(chat::websocket_urlpatterns))
        ),
        "http": SessionMiddlewareStack(URLRouter([path("", index)])),
    })
}

fn main() {}
