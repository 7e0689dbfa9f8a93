//! A table can be built inside a function: `let name;` holds it in a local (and sees consumers
//! defined in that function), `fn name;` defines a function there (routing the module's consumers).
//! Nothing else is defined, so two tables share a scope.
#![deny(warnings)]
use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("module").await
}

fn main() {
    #[consumer]
    async fn local(message: Message, room: String) -> Result<()> {
        message.reply_channel.send_text(room).await
    }

    channel_routing! {
        let routing;
        "websocket.receive", path = r"^/rooms/(?P<room>\w+)/$" => local,
        "websocket.receive" => ws_message,
    }
    channel_routing! {
        fn inner_routing;
        "websocket.receive" => ws_message,
    }
    channel_routing! {
        let again;
        include(inner_routing, path = r"^/inner"),
    }

    assert_eq!(
        routing
            .resolve("websocket.receive", "/rooms/a/")
            .map(|c| c.name()),
        Some("local")
    );
    assert_eq!(
        routing.resolve("websocket.receive", "/").map(|c| c.name()),
        Some("ws_message")
    );
    assert_eq!(
        again
            .resolve("websocket.receive", "/inner/x")
            .map(|c| c.name()),
        Some("ws_message")
    );
}
