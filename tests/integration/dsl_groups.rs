//! Declared groups (`#[consumer(groups = [...])]`) over real sockets: joined before connect runs, left
//! however the connection ends, templated from the path.

use crate::common;

use channels::prelude::*;
use common::{close_code, connect, next_text, send_text, start};

#[consumer(groups = ["lobby"])]
async fn lobby_join(message: Message) -> Result<()> {
    message.reply_channel.accept().await?;
    // The connection is a member already: this reaches the client that is connecting.
    group!("lobby").send_text("welcome").await
}

#[consumer(groups = ["lobby"])]
async fn lobby_receive(message: Message) -> Result<()> {
    match message.text() {
        Some("panic") => panic!("consumer panics on purpose"),
        Some(text) => group!("lobby").send_text(format!("lobby: {text}")).await,
        None => Ok(()),
    }
}

#[consumer(groups = ["room.{room}"])]
async fn room_join(message: Message, room: String) -> Result<()> {
    message.reply_channel.accept().await?;
    message
        .reply_channel
        .send_text(format!("joined {room}"))
        .await
}

#[consumer(groups = ["room.{room}"])]
async fn room_say(message: Message, room: String) -> Result<()> {
    let text = message.text().unwrap_or_default();
    Group::new(format!("room.{room}"))?
        .send_text(format!("{room}: {text}"))
        .await
}

channel_routing! {
    "websocket.connect", path = r"^/lobby/$" => lobby_join,
    "websocket.receive", path = r"^/lobby/$" => lobby_receive,
    "websocket.connect", path = r"^/room/(?P<room>\w+)/$" => room_join,
    "websocket.receive", path = r"^/room/(?P<room>\w+)/$" => room_say,
}

#[tokio::test]
async fn declared_group_is_joined_before_connect_runs() {
    let (server, layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/lobby/").await;
    assert_eq!(next_text(&mut ws).await, "welcome");
    assert_eq!(layer.group_len("lobby"), 1);
}

#[tokio::test]
async fn declared_group_is_left_after_an_abrupt_drop() {
    let (server, layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/lobby/").await;
    assert_eq!(next_text(&mut ws).await, "welcome");
    assert_eq!(layer.group_len("lobby"), 1);
    drop(ws);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("lobby"), 0);
}

#[tokio::test]
async fn declared_group_is_left_after_a_consumer_panic() {
    let (server, layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/lobby/").await;
    assert_eq!(next_text(&mut ws).await, "welcome");
    send_text(&mut ws, "panic").await;
    assert_eq!(close_code(&mut ws).await, 1011);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("lobby"), 0);
}

#[tokio::test]
async fn templated_groups_isolate_rooms() {
    let (server, layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut a1 = connect(addr, "/room/a/").await;
    assert_eq!(next_text(&mut a1).await, "joined a");
    let mut a2 = connect(addr, "/room/a/").await;
    assert_eq!(next_text(&mut a2).await, "joined a");
    let mut b = connect(addr, "/room/b/").await;
    assert_eq!(next_text(&mut b).await, "joined b");
    assert_eq!(layer.group_len("room.a"), 2);
    assert_eq!(layer.group_len("room.b"), 1);

    send_text(&mut a1, "hi").await;
    assert_eq!(next_text(&mut a1).await, "a: hi");
    assert_eq!(next_text(&mut a2).await, "a: hi");
    // Room a's message was delivered to every member before a1 saw it; had it reached b, it would come
    // before b's own message.
    send_text(&mut b, "yo").await;
    assert_eq!(next_text(&mut b).await, "b: yo");
}

mod any_room {
    use channels::prelude::*;

    /// Any path segment names the room, so a filled-in group name can break Channels' rule.
    #[consumer(groups = ["room.{room}"])]
    pub async fn join(message: Message, room: String) -> Result<()> {
        let _ = room;
        message.reply_channel.accept().await
    }

    channel_routing! {
        "websocket.connect", path = r"^/any/(?P<room>[^/]+)/$" => join,
    }
}

#[tokio::test]
async fn a_filled_in_group_name_that_breaks_the_rule_is_refused_with_403() {
    let (server, layer) = start(any_room::channel_routing()).await;
    let addr = server.local_addr();
    // "room.café": non-ASCII, refused at the handshake (never a panic, never a silent group).
    assert_eq!(common::refused_status(addr, "/any/caf%C3%A9/").await, 403);
    // 100 characters or more: refused too.
    assert_eq!(
        common::refused_status(addr, &format!("/any/{}/", "x".repeat(100))).await,
        403
    );
    // A valid one joins.
    let _ws = connect(addr, "/any/lobby/").await;
    assert_eq!(layer.group_len("room.lobby"), 1);
}
