//! Include prefixes: one without captures, one capturing what the included table's own route captures
//! too (the inner value wins), and one of a routing function written by hand (its consumers are unknown,
//! so its prefix is not checked).
use channels::prelude::*;

mod admin {
    use channels::prelude::*;

    #[consumer]
    pub async fn stats(message: Message, section: String) -> Result<()> {
        message.reply_channel.send_text(section).await
    }

    channel_routing! {
        pub fn routing;
        "websocket.receive", path = r"^/(?P<section>[a-z]+)/$" => stats,
    }

    pub fn by_hand() -> Routing {
        Routing::new()
    }
}

channel_routing! {
    include(admin::routing, path = r"^/admin"),
    include(admin::routing, path = r"^/other/(?P<section>[a-z]+)"),
    include(admin::by_hand, path = r"^/hand/(?P<anything>[a-z]+)"),
}

fn main() {
    let routing = channel_routing();
    assert!(
        routing
            .resolve("websocket.receive", "/admin/stats/")
            .is_some()
    );
}
