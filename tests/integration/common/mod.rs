//! Helpers shared by the integration tests, over the public harness (`channels::testing`): start a server
//! on a free port (`TestServer`), connect real WebSocket clients (`WebsocketCommunicator`), send HTTP
//! requests (`HttpCommunicator`), and read with a guard timeout (a hang fails the test instead of blocking
//! CI; no test asserts on time). What is left here is shorthand that panics with a clear message, and a
//! raw HTTP client for malformed requests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use channels::ServerHandle;
use channels::layer::InMemoryLayer;
use channels::prelude::*;
use channels::testing::{HttpCommunicator, TestError, TestServer, WebsocketCommunicator};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A client socket.
pub type Ws = WebsocketCommunicator;

/// How long a test waits for something that should happen at once before calling it a failure.
pub const GUARD: Duration = WebsocketCommunicator::TIMEOUT;

/// Starts `routing` on 127.0.0.1 with its own in-memory layer (the public harness's `TestServer`).
pub async fn start(routing: Routing) -> (ServerHandle, InMemoryLayer) {
    start_with(routing, ServerConfig::default()).await
}

/// Starts `routing` with `config`.
pub async fn start_with(routing: Routing, config: ServerConfig) -> (ServerHandle, InMemoryLayer) {
    TestServer::start_with(routing, config)
        .await
        .expect("server starts")
        .into_parts()
}

/// Opens a WebSocket to `path`.
pub async fn connect(addr: SocketAddr, path: &str) -> Ws {
    WebsocketCommunicator::connect_to(addr, path)
        .await
        .expect("handshake accepted")
}

/// The HTTP status a refused handshake gets.
pub async fn refused_status(addr: SocketAddr, path: &str) -> u16 {
    match WebsocketCommunicator::connect_to(addr, path).await {
        Err(TestError::Refused(status)) => status,
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected the handshake to be refused, it was accepted"),
    }
}

/// The next data frame, skipping pings; panics on close or after [`GUARD`].
pub async fn next_frame(ws: &mut Ws) -> WsMessage {
    ws.receive().await.expect("a frame in time")
}

/// The next text frame.
pub async fn next_text(ws: &mut Ws) -> String {
    ws.receive_text().await.expect("a text frame in time")
}

/// Sends a text frame.
pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send_text(text).await.expect("send");
}

/// Waits for the server's close frame, completes the closing handshake, and returns the code.
pub async fn close_code(ws: &mut Ws) -> u16 {
    ws.receive_close().await.expect("a close frame in time")
}

/// Channels 1.x's worker pattern: a `websocket.receive` consumer that hands each text, with its reply
/// channel, to the custom channel `jobs.upper`, and the worker consumer of `jobs.upper` that answers the
/// client with the text in upper case.
pub fn hand_off_to_upper_worker() -> (Consumer, Consumer) {
    let receive = Consumer::from_async("receive", |m: Message| async move {
        let name = m.reply_channel.name().unwrap_or_default().to_owned();
        Channel::new("jobs.upper")?
            .send(json!({"text": m.text().unwrap_or_default(), "reply_channel": name}))
            .await
    });
    let upper = Consumer::from_async("upper", |m: Message| async move {
        let text = m.content["text"]
            .as_str()
            .unwrap_or_default()
            .to_uppercase();
        m.reply_channel.send_text(text).await
    });
    (receive, upper)
}

/// A plain HTTP GET (the public harness's `HttpCommunicator`): status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = HttpCommunicator::new_to(addr, "GET", path)
        .get_response()
        .await
        .expect("a response in time");
    (response.status, response.text())
}

/// Sends raw bytes as an HTTP request; returns the status and body of the answer.
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    parse_response(&raw_exchange(addr, request).await)
}

/// Sends `request` on a new TCP connection and reads until the server closes it (within [`GUARD`]);
/// the raw bytes of the answer.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    raw
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The chat examples' exchange between two clients of one group: `a` says "hello world", `b` says
/// "hi a", and each client gets both, sender included, in order.
pub async fn assert_two_clients_chat(a: &mut Ws, b: &mut Ws) {
    send_text(a, "hello world").await;
    assert_eq!(next_text(a).await, "[user] hello world");
    assert_eq!(next_text(b).await, "[user] hello world");
    send_text(b, "hi a").await;
    assert_eq!(next_text(a).await, "[user] hi a");
    assert_eq!(next_text(b).await, "[user] hi a");
}

/// Shuts `channels` down (5 s grace) while `ws` is open: `ws` is closed with 1001 ("going away"), the
/// shutdown ends within [`GUARD`], and no connection is left.
#[cfg(feature = "axum")]
pub async fn assert_shutdown_closes_with_1001(
    channels: &channels::axum::ChannelsService,
    ws: &mut Ws,
) {
    let stop = tokio::spawn({
        let channels = channels.clone();
        async move { channels.shutdown(Duration::from_secs(5)).await }
    });
    assert_eq!(close_code(ws).await, 1001);
    tokio::time::timeout(GUARD, stop)
        .await
        .expect("shutdown ends within its grace")
        .expect("shutdown task");
    assert_eq!(channels.connections(), 0);
}

/// Opens a raw TCP connection to `addr`, sends `request` (a WebSocket handshake) and asserts that the
/// answer starts `HTTP/1.1 101`; the stream, with the first 12 bytes of the answer read, for a test
/// that goes on below the client library (a reset, a cut frame).
pub async fn raw_upgrade(addr: SocketAddr, request: &[u8]) -> TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut head = [0u8; 12];
    tokio::time::timeout(GUARD, stream.read_exact(&mut head))
        .await
        .expect("an answer in time")
        .expect("read");
    assert_eq!(&head, b"HTTP/1.1 101");
    stream
}
