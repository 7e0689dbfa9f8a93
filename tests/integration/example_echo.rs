//! The `echo` example over real sockets, and the server's input limits.

use crate::common;
use crate::echo;

use common::*;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn text_comes_back_as_the_same_text() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/path/").await;
    send_text(&mut ws, "hello").await;
    assert_eq!(next_text(&mut ws).await, "hello");
}

#[tokio::test]
async fn non_ascii_text_round_trips() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/any/path/").await;
    send_text(&mut ws, "发送数据").await;
    assert_eq!(next_text(&mut ws).await, "发送数据");
}

#[tokio::test]
async fn binary_comes_back_as_the_same_bytes() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/").await;
    let payload: Vec<u8> = (0..=255).collect();
    ws.socket()
        .send(WsMessage::binary(payload.clone()))
        .await
        .unwrap();
    match next_frame(&mut ws).await {
        WsMessage::Binary(bytes) => assert_eq!(&bytes[..], &payload[..]),
        other => panic!("expected binary, got {other:?}"),
    }
}

#[tokio::test]
async fn large_messages_round_trip() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/").await;
    for size in [100 * 1024, 1 << 20] {
        let text: String = "abcdefghij".repeat(size / 10 + 1)[..size].to_owned();
        send_text(&mut ws, &text).await;
        let back = next_text(&mut ws).await;
        assert_eq!(back.len(), size);
        assert_eq!(back, text);
    }
}

#[tokio::test]
async fn messages_arrive_in_order() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/").await;
    for i in 0..200 {
        send_text(&mut ws, &i.to_string()).await;
    }
    for i in 0..200 {
        assert_eq!(next_text(&mut ws).await, i.to_string());
    }
}

#[tokio::test]
async fn a_message_over_one_mib_closes_with_1009() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/").await;
    let text = "x".repeat((1 << 20) + 1);
    // The server may close while we are still writing; either way the close code must be 1009.
    let _ = ws.socket().send(WsMessage::text(text)).await;
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let (server, _) = start(echo::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/").await;
    let frame = Frame::message(vec![0xff, 0xfe, 0x41], OpCode::Data(Data::Text), true);
    ws.socket().send(WsMessage::Frame(frame)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 1007);
}

#[tokio::test]
async fn a_malformed_http_request_gets_400() {
    let (server, _) = start(echo::channel_routing()).await;
    let (status, _) = raw_request(server.local_addr(), b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_bad_websocket_handshake_gets_400() {
    let (server, _) = start(echo::channel_routing()).await;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        server.local_addr()
    );
    let (status, _) = raw_request(server.local_addr(), request.as_bytes()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn plain_http_without_an_http_route_is_404() {
    let (server, _) = start(echo::channel_routing()).await;
    let (status, _) = http_get(server.local_addr(), "/").await;
    assert_eq!(status, 404);
}
