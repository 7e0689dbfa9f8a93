use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

mod admin {
    use channels::prelude::*;
    channel_routing! {
        pub fn routing;
        "websocket.receive" => super::ws_message,
    }
}

channel_routing! {
    include(admin::routing, path = r"^/admin(/"),
}

fn main() {}
