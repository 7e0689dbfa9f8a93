//! The `chat` example (the seed's Group chat) over real sockets.

use crate::chat;
use crate::common;

use common::*;

#[tokio::test]
async fn two_clients_each_get_every_message_sender_included() {
    let (server, _) = start(chat::channel_routing()).await;
    let addr = server.local_addr();
    let mut a = connect(addr, "/chat/").await;
    let mut b = connect(addr, "/chat/").await;
    assert_two_clients_chat(&mut a, &mut b).await;
}

#[tokio::test]
async fn fifty_clients_get_every_message_once() {
    let (server, layer) = start(chat::channel_routing()).await;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(connect(addr, "/chat/").await);
    }
    assert_eq!(layer.group_len("chat"), 50);
    // Five senders, two messages each: every client sees all ten, in each sender's order, none twice.
    for round in 0..2 {
        for sender in 0..5 {
            send_text(&mut clients[sender * 10], &format!("s{sender}-m{round}")).await;
        }
    }
    for client in &mut clients {
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(next_text(client).await);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10, "duplicates in {seen:?}");
        for sender in 0..5 {
            let first = seen
                .iter()
                .position(|m| m == &format!("[user] s{sender}-m0"));
            let second = seen
                .iter()
                .position(|m| m == &format!("[user] s{sender}-m1"));
            assert!(
                first.is_some() && second.is_some() && first < second,
                "order in {seen:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_disconnected_client_leaves_the_group() {
    let (server, layer) = start(chat::channel_routing()).await;
    let addr = server.local_addr();
    let mut stays = connect(addr, "/chat/").await;
    let mut leaves = connect(addr, "/chat/").await;
    assert_eq!(layer.group_len("chat"), 2);
    leaves.socket().close(None).await.unwrap();
    server.wait_for_connections(1).await;
    assert_eq!(layer.group_len("chat"), 1);
    send_text(&mut stays, "after").await;
    assert_eq!(next_text(&mut stays).await, "[user] after");
    drop(stays);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("chat"), 0);
}

#[tokio::test]
async fn an_abruptly_dropped_client_leaves_the_group() {
    let (server, layer) = start(chat::channel_routing()).await;
    let addr = server.local_addr();
    let ws = connect(addr, "/chat/").await;
    assert_eq!(layer.group_len("chat"), 1);
    drop(ws); // no close frame: the TCP connection just goes away
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("chat"), 0);
}

#[tokio::test]
async fn get_root_serves_the_page() {
    let (server, _) = start(chat::channel_routing()).await;
    let (status, body) = http_get(server.local_addr(), "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("new WebSocket(\"ws://\" + window.location.host + \"/chat/\")"));
    let (status, _) = http_get(server.local_addr(), "/nope").await;
    assert_eq!(status, 404);
}
