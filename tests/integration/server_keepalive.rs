//! Keepalive and lifetime, over real sockets: the server pings a quiet peer (`ping_interval`), drops
//! one that then sends nothing for `ping_timeout` (disconnect code 1006, groups left), keeps one that
//! answers, and closes every connection at `max_lifetime` with 1001.

use std::net::SocketAddr;
use std::time::Duration;

use channels::ServerHandle;
use channels::layer::InMemoryLayer;
use channels::prelude::*;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{self, GUARD};

/// Every route declares group `g`; the connect consumer accepts, the receive consumer echoes, the
/// disconnect consumer reports its code.
fn routing() -> (Routing, mpsc::UnboundedReceiver<u16>) {
    let (disconnected, disconnects) = mpsc::unbounded_channel();
    let connect = Consumer::from_async("connect", |m: Message| async move {
        m.reply_channel.accept().await
    });
    let receive = Consumer::from_async("receive", |m: Message| async move {
        let text = m.text().unwrap_or_default().to_owned();
        m.reply_channel.send_text(text).await
    });
    let disconnect = Consumer::from_async("disconnect", move |m: Message| {
        let disconnected = disconnected.clone();
        async move {
            let _ = disconnected.send(m.content.code().unwrap_or_default());
            Ok::<(), Error>(())
        }
    });
    let routing = Routing::new()
        .route(Route::to("websocket.connect", None, connect).with_groups(["g"]))
        .route(Route::to("websocket.receive", None, receive).with_groups(["g"]))
        .route(Route::to("websocket.disconnect", None, disconnect).with_groups(["g"]));
    (routing, disconnects)
}

async fn start(
    config: ServerConfig,
) -> (ServerHandle, InMemoryLayer, mpsc::UnboundedReceiver<u16>) {
    let (routing, disconnects) = routing();
    let (server, layer) = common::start_with(routing, config).await;
    (server, layer, disconnects)
}

async fn next_disconnect(disconnects: &mut mpsc::UnboundedReceiver<u16>) -> u16 {
    tokio::time::timeout(GUARD, disconnects.recv())
        .await
        .expect("a disconnect in time")
        .expect("the server is alive")
}

/// A WebSocket opened by hand over TCP: after the 101 it reads only what the test asks for, and never
/// answers a ping.
async fn raw_websocket(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(GUARD, stream.read_exact(&mut byte))
            .await
            .expect("the 101 in time")
            .expect("read");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped_and_leaves_its_groups() {
    let config = ServerConfig::default()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(200));
    let (server, layer, mut disconnects) = start(config).await;
    let mut stream = raw_websocket(server.local_addr(), "/").await;
    assert_eq!(layer.group_len("g"), 1);
    // The server's ping: FIN + opcode 9, an empty payload. The client reads it and never answers.
    let mut ping = [0u8; 2];
    tokio::time::timeout(GUARD, stream.read_exact(&mut ping))
        .await
        .expect("a ping in time")
        .expect("read");
    assert_eq!(ping, [0x89, 0x00]);
    assert_eq!(next_disconnect(&mut disconnects).await, 1006);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("g"), 0, "the dropped peer left its group");
    // And the socket was closed under it: no close frame (nobody would answer), just the end.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(GUARD, stream.read_to_end(&mut rest))
        .await
        .expect("the server closed the socket");
    assert!(read.is_err() || rest.is_empty(), "no more frames: {rest:?}");
}

#[tokio::test]
async fn a_peer_that_never_even_reads_is_dropped() {
    // No read at all after the 101: the ping sits in the client's receive buffer, unanswered.
    let config = ServerConfig::default()
        .ping_interval(Duration::from_millis(50))
        .ping_timeout(Duration::from_millis(100));
    let (server, layer, mut disconnects) = start(config).await;
    let _stream = raw_websocket(server.local_addr(), "/").await;
    assert_eq!(next_disconnect(&mut disconnects).await, 1006);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("g"), 0);
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_open_past_many_timeouts() {
    // Ten pings, each sent `ping_interval` after the last answer, span more than twice the timeout: a
    // server that did not count the pongs would have dropped the client after the first.
    let config = ServerConfig::default()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(400));
    let (server, _layer, mut disconnects) = start(config).await;
    let mut ws = common::connect(server.local_addr(), "/").await;
    for _ in 0..10 {
        // tokio-tungstenite queues the pong as it reads the ping, and sends it on the next read.
        let frame = tokio::time::timeout(GUARD, ws.socket().next())
            .await
            .expect("a ping in time")
            .expect("the socket is open")
            .expect("a frame");
        assert!(matches!(frame, WsMessage::Ping(_)), "{frame:?}");
    }
    common::send_text(&mut ws, "still here").await;
    assert_eq!(common::next_text(&mut ws).await, "still here");
    assert!(disconnects.try_recv().is_err(), "no disconnect ran");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn max_lifetime_closes_with_1001_and_runs_the_disconnect() {
    let config = ServerConfig::default()
        .ping_interval(None)
        .max_lifetime(Duration::from_millis(200));
    let (server, layer, mut disconnects) = start(config).await;
    let mut ws = common::connect(server.local_addr(), "/").await;
    assert_eq!(layer.group_len("g"), 1);
    let (code, reason) = ws
        .receive_close_frame()
        .await
        .expect("a close frame in time");
    assert_eq!(
        (code, reason.as_str()),
        (1001, "connection lifetime reached")
    );
    assert_eq!(next_disconnect(&mut disconnects).await, 1001);
    server.wait_for_connections(0).await;
    assert_eq!(layer.group_len("g"), 0);
}

#[test]
fn keepalive_defaults_are_daphnes_and_lifetime_is_off() {
    let config = ServerConfig::default();
    assert_eq!(config.ping_interval, Some(Duration::from_secs(20)));
    assert_eq!(config.ping_timeout, Duration::from_secs(30));
    assert_eq!(config.max_lifetime, None);
}
