//! The `tutorial_chat` example (the Channels 4 tutorial's chat) over real sockets.

use crate::common;
use crate::tutorial_chat;

use channels::prelude::json;
use common::*;

async fn send_message(ws: &mut Ws, m: &str) {
    ws.send_json(&json!({"message": m})).await.expect("send");
}

async fn next_json(ws: &mut Ws) -> serde_json::Value {
    ws.receive_json().await.expect("a JSON frame in time")
}

#[tokio::test]
async fn two_clients_in_a_room_see_each_others_messages() {
    let (server, layer) = start(tutorial_chat::channel_routing()).await;
    let addr = server.local_addr();
    let mut alice = connect(addr, "/ws/chat/lobby/").await;
    let mut bob = connect(addr, "/ws/chat/lobby/").await;
    assert_eq!(layer.group_len("chat_lobby"), 2);
    send_message(&mut alice, "hello bob").await;
    assert_eq!(next_json(&mut alice).await, json!({"message": "hello bob"}));
    assert_eq!(next_json(&mut bob).await, json!({"message": "hello bob"}));
    send_message(&mut bob, "hi alice").await;
    assert_eq!(next_json(&mut alice).await, json!({"message": "hi alice"}));
    assert_eq!(next_json(&mut bob).await, json!({"message": "hi alice"}));
}

#[tokio::test]
async fn a_client_in_another_room_sees_nothing() {
    let (server, layer) = start(tutorial_chat::channel_routing()).await;
    let addr = server.local_addr();
    let mut lobby = connect(addr, "/ws/chat/lobby/").await;
    let mut kitchen = connect(addr, "/ws/chat/kitchen/").await;
    assert_eq!(layer.group_len("chat_kitchen"), 1);
    send_message(&mut lobby, "lobby only").await;
    assert_eq!(
        next_json(&mut lobby).await,
        json!({"message": "lobby only"})
    );
    send_message(&mut kitchen, "kitchen only").await;
    // The kitchen's first message is its own: the lobby's never reached it.
    assert_eq!(
        next_json(&mut kitchen).await,
        json!({"message": "kitchen only"})
    );
    send_message(&mut lobby, "lobby again").await;
    assert_eq!(
        next_json(&mut lobby).await,
        json!({"message": "lobby again"})
    );
}

#[tokio::test]
async fn frames_that_are_not_chat_json_are_answered_to_their_sender_only() {
    let (server, _layer) = start(tutorial_chat::channel_routing()).await;
    let addr = server.local_addr();
    let mut sender = connect(addr, "/ws/chat/lobby/").await;
    let mut other = connect(addr, "/ws/chat/lobby/").await;
    send_text(&mut sender, "not json").await;
    send_text(&mut sender, "[1, 2]").await;
    send_text(&mut sender, r#"{"text": "wrong key"}"#).await;
    sender.send_bytes(&b"\x00\x01"[..]).await.expect("send");
    for problem in [
        "not JSON",
        "not a JSON object",
        "no \"message\" in the JSON object",
        "binary frame",
    ] {
        let answer = next_json(&mut sender).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(problem), "{answer} for {problem}");
    }
    // The sender is still in the room, and the other member's first message is the valid one.
    send_message(&mut sender, "still here").await;
    assert_eq!(
        next_json(&mut other).await,
        json!({"message": "still here"})
    );
    assert_eq!(
        next_json(&mut sender).await,
        json!({"message": "still here"})
    );
}

#[tokio::test]
async fn any_json_value_is_relayed_as_the_tutorial_relays_it() {
    let (server, _layer) = start(tutorial_chat::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/ws/chat/lobby/").await;
    let m = json!({"nested": [1, "two", null]});
    ws.send_json(&json!({"message": m, "extra": true}))
        .await
        .expect("send");
    assert_eq!(next_json(&mut ws).await, json!({"message": m}));
}

#[tokio::test]
async fn a_group_event_from_elsewhere_reaches_the_room() {
    // What a Django process's `group_send` puts on the layer.
    let (server, layer) = start(tutorial_chat::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/ws/chat/lobby/").await;
    channels::Group::new("chat_lobby")
        .expect("a group name")
        .with_layer(std::sync::Arc::new(layer.clone()))
        .send(json!({"type": "chat.message", "message": "from outside"}))
        .await
        .expect("sent");
    assert_eq!(next_json(&mut ws).await, json!({"message": "from outside"}));
}

#[tokio::test]
async fn a_closed_client_leaves_its_room() {
    let (server, layer) = start(tutorial_chat::channel_routing()).await;
    let addr = server.local_addr();
    let stays = connect(addr, "/ws/chat/lobby/").await;
    let leaves = connect(addr, "/ws/chat/lobby/").await;
    assert_eq!(layer.group_len("chat_lobby"), 2);
    leaves.disconnect().await.expect("closed");
    server.wait_for_connections(1).await;
    assert_eq!(layer.group_len("chat_lobby"), 1);
    drop(stays);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("chat_lobby"), 0);
}

#[tokio::test]
async fn only_ws_chat_room_paths_open_a_socket() {
    let (server, _layer) = start(tutorial_chat::channel_routing()).await;
    let addr = server.local_addr();
    for path in [
        "/",
        "/chat/lobby/",
        "/ws/chat/",
        "/ws/chat/lobby",
        "/ws/chat/lobby/extra/",
        "/ws/chat/my-room/",
        "/x/ws/chat/lobby/",
    ] {
        assert_eq!(refused_status(addr, path).await, 404, "{path}");
    }
    // `\w` matches any letter, as in Python, but a group name is ASCII: the room is refused, as the
    // tutorial's `group_add` refuses it.
    assert_eq!(refused_status(addr, "/ws/chat/caf%C3%A9/").await, 403);
    let long = format!("/ws/chat/{}/", "a".repeat(100));
    assert_eq!(refused_status(addr, &long).await, 403);
}

#[tokio::test]
async fn the_pages_are_served() {
    let (server, _layer) = start(tutorial_chat::channel_routing()).await;
    let addr = server.local_addr();
    let (status, lobby) = http_get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(lobby.contains("What chat room would you like to enter?"));
    let (status, room) = http_get(addr, "/chat/lobby/").await;
    assert_eq!(status, 200);
    assert!(room.contains(r#"<script id="room-name" type="application/json">"lobby"</script>"#));
    assert!(room.contains("'/ws/chat/'"));
    // The room name is escaped as Django's json_script escapes it.
    let (status, room) = http_get(addr, "/chat/%3Cb%3E&/").await;
    assert_eq!(status, 200);
    assert!(room.contains(r#"type="application/json">"\u003Cb\u003E\u0026"</script>"#));
    assert_eq!(http_get(addr, "/ws/chat/lobby/").await.0, 404);
}
