//! Channels 2+/4 routing as written, over real sockets: `ProtocolTypeRouter`, `URLRouter` with the
//! patterns of Channels 4 projects copied verbatim (`re_path(r"ws/chat/(?P<room_name>\w+)/$")`,
//! `path("ws/notification/")`, `r"^ws/(?P<slug>[-\w_]+)/"`), nested routers, Django's converters, an
//! `http` URLRouter and a `ChannelNameRouter` worker class dispatching on `type`. Each path matches what
//! Channels matches, and gets 404 where Channels finds no route.

use crate::common;

use channels::prelude::*;
use common::{connect, http_get, next_text, refused_status, start};

/// Channels 4 tutorial's `ChatConsumer`: `self.scope["url_route"]["kwargs"]["room_name"]` is `new`'s
/// parameter.
struct ChatConsumer {
    room_name: String,
}

#[consumer]
impl ChatConsumer {
    fn new(room_name: String) -> Self {
        ChatConsumer { room_name }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        message.reply_channel.accept().await?;
        let reply = format!("chat {}", self.room_name);
        message.reply_channel.send_text(reply).await
    }
}

#[derive(Default)]
struct NotificationConsumer;

#[consumer(groups = ["thumbs"])]
impl NotificationConsumer {
    async fn connect(&mut self, message: Message) -> Result<()> {
        message.reply_channel.accept().await?;
        message.reply_channel.send_text("notifications").await
    }

    async fn thumbnail_done(&mut self, message: Message, event: serde_json::Value) -> Result<()> {
        let text = format!("thumbnail {}", event["name"].as_str().unwrap_or_default());
        message.reply_channel.send_text(text).await
    }
}

struct TeamChat {
    slug: String,
}

#[consumer]
impl TeamChat {
    fn new(slug: String) -> Self {
        TeamChat { slug }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        message.reply_channel.accept().await?;
        let reply = format!("team {} chat", self.slug);
        message.reply_channel.send_text(reply).await
    }
}

struct TeamItem {
    slug: String,
    id: u32,
}

#[consumer]
impl TeamItem {
    fn new(slug: String, id: u32) -> Self {
        TeamItem { slug, id }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        message.reply_channel.accept().await?;
        let reply = format!("team {} item {}", self.slug, self.id);
        message.reply_channel.send_text(reply).await
    }
}

/// Channels 4's worker: a `SyncConsumer` on a `ChannelNameRouter` channel, one handler per `type`.
#[derive(Default)]
struct ThumbnailWorker {
    made: u32,
}

#[consumer]
impl ThumbnailWorker {
    fn thumbnails_make(&mut self, message: Message) -> Result<()> {
        self.made += 1;
        let name = message.content["name"].as_str().unwrap_or_default();
        group!("thumbs").send_blocking(json!({
            "type": "thumbnail.done",
            "name": format!("{name} #{}", self.made),
        }))
    }
}

#[consumer]
async fn index(message: Message) -> Result<()> {
    message
        .reply_channel
        .respond(HttpResponse::text("index"))
        .await
}

/// `chat/routing.py`.
mod chat_routing {
    use super::*;

    channel_routing! {
        pub fn websocket_urlpatterns;
        re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi()),
        path("ws/notification/", NotificationConsumer.as_asgi()),
        re_path(r"^ws/(?P<slug>[-\w_]+)/", URLRouter([
            path("chat/", TeamChat.as_asgi()),
            path("items/<int:id>/", TeamItem.as_asgi()),
        ])),
    }
}

// `asgi.py`.
channel_routing! {
    ProtocolTypeRouter({
        "http": URLRouter([
            path("", index),
        ]),
        "websocket": URLRouter(chat_routing::websocket_urlpatterns),
        "channel": ChannelNameRouter({
            "thumbnails-generate": ThumbnailWorker.as_asgi(),
        }),
    })
}

#[tokio::test]
async fn channels4_patterns_match_what_channels_matches() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    for (path, greeting) in [
        ("/ws/chat/lobby/", "chat lobby"),
        ("/ws/chat/room_2/", "chat room_2"),
        ("/ws/notification/", "notifications"),
        ("/ws/my-team/chat/", "team my-team chat"),
        ("/ws/my_team/items/7/", "team my_team item 7"),
    ] {
        let mut ws = connect(addr, path).await;
        assert_eq!(next_text(&mut ws).await, greeting, "{path}");
    }
}

#[tokio::test]
async fn paths_channels_does_not_match_get_404() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    for path in [
        // `$` makes Django fullmatch the endpoint's pattern.
        "/ws/chat/lobby/extra/",
        "/ws/chat/lobby",
        "/x/ws/chat/lobby/",
        // `path()` endpoints are exact.
        "/ws/notification/more/",
        // `<int:id>` is digits only.
        "/ws/team/items/seven/",
        "/ws/team/nothing/",
        "/",
    ] {
        assert_eq!(refused_status(addr, path).await, 404, "{path}");
    }
}

#[tokio::test]
async fn http_key_routes_http_requests() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    assert_eq!(http_get(addr, "/").await, (200, "index".to_owned()));
    assert_eq!(http_get(addr, "/ws/chat/lobby/").await.0, 404);
}

#[tokio::test]
async fn channel_name_router_runs_a_worker_class_by_type() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/ws/notification/").await;
    assert_eq!(next_text(&mut ws).await, "notifications");
    let channel = Channel::new("thumbnails-generate")
        .expect("a valid name")
        .with_layer(server.layer());
    for name in ["a.png", "b.png"] {
        channel
            .send(json!({"type": "thumbnails.make", "name": name}))
            .await
            .expect("sent");
    }
    // One instance serves the channel: its count goes on.
    assert_eq!(next_text(&mut ws).await, "thumbnail a.png #1");
    assert_eq!(next_text(&mut ws).await, "thumbnail b.png #2");
}
