//! The `axum_chat` example (the seed's chat inside an axum app) over real sockets: its `app` served by
//! `axum::serve` on a free port, as its `main` serves it.

use std::net::SocketAddr;

use clap::Parser;

use crate::axum_chat;
use crate::common::{
    GUARD, assert_shutdown_closes_with_1001, assert_two_clients_chat, connect, http_get, next_text,
    send_text,
};

/// Serves the example's app, with the chat's table on a fresh in-memory layer; returns the address and
/// the mounted service. The browser test (`browser_axum_chat`) serves it the same way.
pub(crate) async fn start() -> (SocketAddr, channels::axum::ChannelsService) {
    // The example's own options, as `main` parses them (the defaults: no `--redis`).
    let args = axum_chat::common::Args::parse_from(["axum_chat"]);
    let channels = axum_chat::chat_service(&args)
        .await
        .expect("the chat's routing is valid");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let service =
        axum_chat::app(channels.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    (addr, channels)
}

#[tokio::test]
async fn health_answers_ok() {
    let (addr, _channels) = start().await;
    assert_eq!(http_get(addr, "/health").await, (200, "ok".to_owned()));
}

#[tokio::test]
async fn the_chat_page_is_served_at_the_root() {
    let (addr, _channels) = start().await;
    let (status, page) = http_get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("new WebSocket("), "not the chat page: {page}");
}

#[tokio::test]
async fn two_clients_see_each_others_messages_on_any_path() {
    let (addr, channels) = start().await;
    let mut a = connect(addr, "/chat/").await;
    let mut b = connect(addr, "/elsewhere/").await;
    assert_two_clients_chat(&mut a, &mut b).await;
    // Leaving takes a client out of the group.
    drop(b);
    tokio::time::timeout(GUARD, channels.wait_for_connections(1))
        .await
        .expect("b's connection ends");
    send_text(&mut a, "after").await;
    assert_eq!(next_text(&mut a).await, "[user] after");
}

#[tokio::test]
async fn shutting_down_closes_the_chats_sockets_with_1001() {
    let (addr, channels) = start().await;
    let mut a = connect(addr, "/chat/").await;
    assert_shutdown_closes_with_1001(&channels, &mut a).await;
}
