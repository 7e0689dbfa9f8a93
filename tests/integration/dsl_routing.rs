//! `channel_routing!` over real sockets: typed captures, include prefixes, first match, sync consumers,
//! extractors.

use crate::common;

use channels::prelude::*;
use common::{connect, next_text, refused_status, send_text, start};

#[consumer]
async fn echo_times(message: Message, times: u32, session: Session) -> Result<()> {
    let text = message.text().unwrap_or_default().repeat(times as usize);
    let seen = session.get("seen").and_then(|v| v.as_u64()).unwrap_or(0) + 1;
    session.set("seen", json!(seen));
    message
        .reply_channel
        .send_text(format!("{text} #{seen}"))
        .await
}

#[consumer]
async fn room_message(message: &Message, room: String) -> Result<()> {
    let text = message.text().unwrap_or_default();
    message
        .reply_channel
        .send_text(format!("{room}: {text}"))
        .await
}

#[consumer]
fn sync_echo(message: Message) -> Result<()> {
    let text = message.text().unwrap_or_default().to_owned();
    message
        .reply_channel
        .send_text_blocking(format!("sync {text}"))
}

#[consumer]
async fn fallback(message: Message) -> Result<()> {
    message.reply_channel.send_text("fallback").await
}

#[consumer(groups = ["thumbs"])]
async fn thumbs_watch(message: Message) -> Result<()> {
    message.reply_channel.accept().await
}

/// A custom channel consumer: run by the server's worker, not by a connection.
#[consumer]
async fn make_thumbnail(message: Message) -> Result<()> {
    let path = message.content["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    group!("thumbs")
        .send_text(format!("thumbnail of {path}"))
        .await
}

mod admin {
    use channels::prelude::*;

    #[consumer]
    pub async fn stats(message: Message, section: String) -> Result<()> {
        let path = message.path().to_owned();
        message
            .reply_channel
            .send_text(format!("admin {section} at {path}"))
            .await
    }

    channel_routing! {
        pub fn routing;
        "websocket.receive", path = r"^/(?P<section>[a-z]+)/$" => stats,
    }
}

channel_routing! {
    "websocket.receive", path = r"^/echo/(?P<times>[^/]+)/$" => echo_times,
    route("websocket.receive", room_message, path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$"),
    include(admin::routing, path = r"^/admin"),
    "websocket.receive", path = r"^/sync/$" => sync_echo,
    "websocket.receive", path = r"^/(?:chat|other)/" => fallback,
    "websocket.connect", path = r"^/thumbs/$" => thumbs_watch,
    "thumbnails.generate" => make_thumbnail,
}

#[tokio::test]
async fn typed_capture_is_parsed_and_session_extracted() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/echo/3/").await;
    send_text(&mut ws, "ab").await;
    assert_eq!(next_text(&mut ws).await, "ababab #1");
    send_text(&mut ws, "x").await;
    assert_eq!(next_text(&mut ws).await, "xxx #2");
}

#[tokio::test]
async fn capture_that_does_not_parse_refuses_the_handshake() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    assert_eq!(refused_status(addr, "/echo/abc/").await, 404);
    assert_eq!(refused_status(addr, "/echo/99999999999/").await, 404);
    assert_eq!(refused_status(addr, "/nowhere/").await, 404);
}

#[tokio::test]
async fn string_capture_and_message_by_reference() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/chat/lobby/").await;
    send_text(&mut ws, "hello").await;
    assert_eq!(next_text(&mut ws).await, "lobby: hello");
}

#[tokio::test]
async fn first_match_wins() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    // `/chat/lobby/` matches both the room route and the fallback below it: the room route wins.
    let mut ws = connect(addr, "/chat/lobby/").await;
    send_text(&mut ws, "hello").await;
    assert_eq!(next_text(&mut ws).await, "lobby: hello");
    // `/chat/no-dash!/` only matches the fallback (the room pattern refuses `-` and `!`).
    let mut ws = connect(addr, "/chat/no-dash!/").await;
    send_text(&mut ws, "hello").await;
    assert_eq!(next_text(&mut ws).await, "fallback");
}

#[tokio::test]
async fn include_strips_its_prefix() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut ws = connect(addr, "/admin/users/").await;
    send_text(&mut ws, "?").await;
    assert_eq!(next_text(&mut ws).await, "admin users at /admin/users/");
    // The inner pattern is anchored at the stripped rest: `/users/` alone is not an admin path.
    assert_eq!(refused_status(addr, "/users/").await, 404);
}

#[tokio::test]
async fn sync_consumer_runs() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/sync/").await;
    send_text(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await, "sync ping");
}

#[tokio::test]
async fn custom_channel_route_runs_on_the_worker() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/thumbs/").await;
    Channel::new("thumbnails.generate")
        .unwrap()
        .with_layer(server.layer())
        .send(json!({"path": "cat.png"}))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, "thumbnail of cat.png");
}

mod atomic {
    use channels::prelude::*;

    /// Sends, then fails when asked to: with `atomic`, the send never leaves.
    #[consumer(atomic)]
    pub async fn transfer(message: Message) -> Result<()> {
        message.reply_channel.send_text("debited").await?;
        if message.text() == Some("fail") {
            return Err(Error::InvalidMessage("insufficient funds".into()));
        }
        message.reply_channel.send_text("credited").await
    }

    channel_routing! {
        "websocket.receive" => transfer,
    }
}

#[tokio::test]
async fn an_atomic_consumer_sends_all_or_nothing() {
    let (server, _) = start(atomic::channel_routing()).await;
    let mut ok = connect(server.local_addr(), "/").await;
    send_text(&mut ok, "go").await;
    assert_eq!(next_text(&mut ok).await, "debited");
    assert_eq!(next_text(&mut ok).await, "credited");
    let mut failing = connect(server.local_addr(), "/").await;
    send_text(&mut failing, "fail").await;
    // Nothing before the close: "debited" was held, then discarded.
    assert_eq!(failing.receive_close().await.unwrap(), 1011);
}

mod slugs {
    use std::borrow::Cow;

    use channels::prelude::*;

    /// `Cow<str>` is not `FromStr`, yet a natural capture type: it is accepted.
    #[consumer]
    pub async fn article(message: Message, slug: Cow<'_, str>) -> Result<()> {
        message
            .reply_channel
            .send_text(format!("article {slug}"))
            .await
    }

    channel_routing! {
        "websocket.receive", path = r"^/articles/(?P<slug>[a-z-]+)/$" => article,
    }
}

#[tokio::test]
async fn a_cow_str_capture_is_accepted() {
    let (server, _) = start(slugs::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/articles/hello-world/").await;
    send_text(&mut ws, "read").await;
    assert_eq!(next_text(&mut ws).await, "article hello-world");
    send_text(&mut ws, "again").await;
    assert_eq!(next_text(&mut ws).await, "article hello-world");
}
