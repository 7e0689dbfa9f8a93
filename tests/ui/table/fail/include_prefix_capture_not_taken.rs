use channels::prelude::*;

mod admin {
    use channels::prelude::*;

    #[consumer]
    pub async fn stats(message: Message) -> Result<()> {
        message.reply_channel.send_text("stats").await
    }

    channel_routing! {
        pub fn routing;
        "websocket.receive", path = r"^/stats/$" => stats,
    }
}

channel_routing! {
    include(admin::routing, path = r"^/admin/(?P<section>[a-z]+)"),
}

fn main() {}
