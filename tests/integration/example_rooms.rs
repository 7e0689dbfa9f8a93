//! The `rooms` example: typed captures and templated room groups, over real sockets.

use crate::common;
use crate::rooms;

use common::*;

#[tokio::test]
async fn messages_stay_in_their_room() {
    let (server, layer) = start(rooms::channel_routing()).await;
    let addr = server.local_addr();
    let mut lobby_a = connect(addr, "/chat/lobby/").await;
    let mut lobby_b = connect(addr, "/chat/lobby/").await;
    let mut kitchen = connect(addr, "/chat/kitchen/").await;
    assert_eq!(layer.group_len("room.lobby"), 2);
    assert_eq!(layer.group_len("room.kitchen"), 1);
    send_text(&mut lobby_a, "hi lobby").await;
    send_text(&mut kitchen, "hi kitchen").await;
    assert_eq!(next_text(&mut lobby_a).await, "[user] hi lobby");
    assert_eq!(next_text(&mut lobby_b).await, "[user] hi lobby");
    // The kitchen's first message is its own: the lobby's never reached it.
    assert_eq!(next_text(&mut kitchen).await, "[user] hi kitchen");
    drop((lobby_a, lobby_b, kitchen));
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("room.lobby"), 0);
    assert_eq!(layer.group_len("room.kitchen"), 0);
}

#[tokio::test]
async fn echo_sends_each_text_back_times_times() {
    let (server, _) = start(rooms::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/echo/3/").await;
    send_text(&mut ws, "ho").await;
    for _ in 0..3 {
        assert_eq!(next_text(&mut ws).await, "ho");
    }
    send_text(&mut ws, "again").await;
    assert_eq!(next_text(&mut ws).await, "again");
}

#[tokio::test]
async fn captures_that_do_not_parse_are_refused_at_the_handshake() {
    let (server, _) = start(rooms::channel_routing()).await;
    let addr = server.local_addr();
    assert_eq!(refused_status(addr, "/echo/abc/").await, 404);
    assert_eq!(refused_status(addr, "/echo/99999999999/").await, 404);
    assert_eq!(refused_status(addr, "/chat/not-a-room/").await, 404);
    assert_eq!(refused_status(addr, "/elsewhere/").await, 404);
}

#[tokio::test]
async fn paths_are_matched_percent_decoded() {
    let (server, _) = start(rooms::channel_routing()).await;
    let addr = server.local_addr();
    // `/chat/caf%C3%A9/` is `/chat/café/` once decoded (as ASGI's `path` is): `é` is not in the room
    // pattern's `[a-zA-Z0-9_]`, so no route matches.
    assert_eq!(refused_status(addr, "/chat/caf%C3%A9/").await, 404);
    // Encoded ASCII decodes and matches: `%6C%6F%62%62%79` is `lobby`.
    let mut ws = connect(addr, "/chat/%6C%6F%62%62%79/").await;
    send_text(&mut ws, "decoded").await;
    assert_eq!(next_text(&mut ws).await, "[user] decoded");
}

#[tokio::test]
async fn echo_can_not_be_turned_into_an_amplifier() {
    let (server, _) = start_with(rooms::channel_routing(), rooms::limits()).await;
    let addr = server.local_addr();
    // 4294967295 copies (4 TB for a 1 KB text) and anything past the cap are refused before the socket
    // opens.
    assert_eq!(refused_status(addr, "/echo/4294967295/").await, 403);
    assert_eq!(
        refused_status(addr, &format!("/echo/{}/", rooms::MAX_ECHO_TIMES + 1)).await,
        403
    );
    // The cap itself is served: exactly that many copies, then nothing more.
    let mut ws = connect(addr, &format!("/echo/{}/", rooms::MAX_ECHO_TIMES)).await;
    send_text(&mut ws, "x").await;
    for _ in 0..rooms::MAX_ECHO_TIMES {
        assert_eq!(next_text(&mut ws).await, "x");
    }
    send_text(&mut ws, "end").await;
    assert_eq!(next_text(&mut ws).await, "end");
}

#[tokio::test]
async fn the_rooms_limits_are_those_of_a_public_server() {
    let limits = rooms::limits();
    assert_eq!(limits.max_message_size, 64 << 10);
    assert_eq!(limits.max_connections, Some(10_000));
    assert!(limits.max_lifetime.is_some());
    // A chat line over 64 KiB closes the socket with 1009.
    let (server, _) = start_with(rooms::channel_routing(), limits).await;
    let mut ws = connect(server.local_addr(), "/chat/lobby/").await;
    send_text(&mut ws, &"x".repeat(65 << 10)).await;
    assert_eq!(close_code(&mut ws).await, 1009);
}
