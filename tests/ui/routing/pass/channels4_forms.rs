//! Every Channels 2+ form: `ProtocolTypeRouter`, `URLRouter` inline or by name, `re_path`, `path` with
//! converters, `name = ...`, nested routers, `.as_asgi()` or not, `ChannelNameRouter`, a `[...]` list, a
//! `let` table, and a Channels 2+ table included in a 1.x one.
use channels::prelude::*;

struct Room {
    room_name: String,
}

#[consumer]
impl Room {
    fn new(room_name: String) -> Self {
        Room { room_name }
    }
    async fn receive(&mut self, message: Message) -> Result<()> {
        message
            .reply_channel
            .send_text(self.room_name.clone())
            .await
    }
}

struct Item {
    id: u64,
    key: String,
}

#[consumer]
impl Item {
    fn new(id: u64, key: String) -> Self {
        Item { id, key }
    }
    async fn receive(&mut self, message: Message) -> Result<()> {
        message
            .reply_channel
            .send_text(format!("{} {}", self.id, self.key))
            .await
    }
}

#[derive(Default)]
struct Worker;

#[consumer]
impl Worker {
    fn thumbnails_make(&mut self, event: serde_json::Value) -> Result<()> {
        let _ = event;
        Ok(())
    }
}

#[consumer]
async fn index(message: Message) -> Result<()> {
    message
        .reply_channel
        .respond(HttpResponse::text("index"))
        .await
}

#[consumer]
async fn make_thumbnail(message: Message) -> Result<()> {
    let _ = message;
    Ok(())
}

mod chat {
    use super::*;

    channel_routing! {
        pub fn websocket_urlpatterns;
        [
            re_path(r"ws/chat/(?P<room_name>\w+)/$", Room.as_asgi(), name = "room"),
            re_path(r"^ws/(?P<key>[-\w_]+)/", URLRouter([
                path("items/<int:id>/", Item::as_asgi()),
            ])),
        ]
    }
}

channel_routing! {
    ProtocolTypeRouter({
        "websocket": URLRouter(chat::websocket_urlpatterns),
        "http": URLRouter([path("", index), path("<slug:page>/", index2)]),
        "channel": ChannelNameRouter({
            "thumbnails-generate": Worker.as_asgi(),
            "thumbnails-fast": make_thumbnail,
        }),
    })
}

#[consumer]
async fn index2(message: Message, page: String) -> Result<()> {
    message
        .reply_channel
        .respond(HttpResponse::text(page))
        .await
}

mod v1 {
    use super::*;

    channel_routing! {
        pub fn routing;
        include(chat::websocket_urlpatterns),
    }
}

fn main() {
    let routing = channel_routing();
    assert!(
        routing
            .resolve("websocket.receive", "/ws/chat/lobby/")
            .is_some()
    );
    assert!(
        routing
            .resolve("websocket.receive", "/ws/k/items/7/")
            .is_some()
    );
    assert!(routing.resolve("thumbnails-generate", "").is_some());
    assert!(
        v1::routing()
            .resolve("websocket.receive", "/ws/chat/lobby/")
            .is_some()
    );
    channel_routing! {
        let local;
        re_path(r"ws/chat/(?P<room_name>\w+)/$", Room),
    }
    assert!(local.resolve("websocket.connect", "/ws/chat/x/").is_some());
}
