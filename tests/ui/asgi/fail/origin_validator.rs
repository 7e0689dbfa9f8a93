//! `OriginValidator`'s origins belong to the server's configuration: refused with the `ServerConfig`
//! calls for the origins listed. `AllowedHostsOriginValidator` on "http" is refused as Channels refuses it.
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

channel_routing! {
    ProtocolTypeRouter({
        "websocket": OriginValidator(
            URLRouter([re_path(r"ws/chat/$", ChatConsumer.as_asgi())]),
            ["https://app.example.com", ".example.com"],
        ),
        "http": AllowedHostsOriginValidator(URLRouter([path("", index)])),
    })
}

fn main() {}
