//! `http.request` consumers that stream over real sockets: server-sent events that carry group events
//! (the `sse` example), a long-poll answered by a group event, and a client that leaves mid-stream (its
//! consumer gets `http.disconnect`, its groups are left). The client is raw TCP, reading the chunked body
//! as it arrives.

use crate::common;
use crate::sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use channels::ServerHandle;
use channels::layer::InMemoryLayer;
use channels::prelude::*;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

/// A raw HTTP/1.1 client whose response is read as it arrives.
struct Stream {
    socket: TcpStream,
    /// Everything read so far: head, chunk sizes and chunk data.
    seen: Vec<u8>,
}

impl Stream {
    async fn get(addr: SocketAddr, path: &str) -> Stream {
        let mut socket = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        socket.write_all(request.as_bytes()).await.expect("write");
        Stream {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads until what was received contains `needle` (a chunk's data arrives whole); panics after
    /// [`GUARD`] or when the server closes first.
    async fn until(&mut self, needle: &str) {
        let found = |seen: &[u8]| seen.windows(needle.len()).any(|w| w == needle.as_bytes());
        let read = async {
            let mut buf = [0u8; 4096];
            while !found(&self.seen) {
                let n = self.socket.read(&mut buf).await.expect("read");
                assert!(
                    n > 0,
                    "server closed before {needle:?}; got {:?}",
                    self.text()
                );
                self.seen.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(GUARD, read)
            .await
            .unwrap_or_else(|_| panic!("{needle:?} not received in time; got {:?}", self.text()));
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    fn head(&self) -> String {
        let text = self.text();
        text.split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
}

async fn publish(addr: SocketAddr, text: &str) {
    let request = format!(
        "POST /publish/ HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let (status, _) = raw_request(addr, request.as_bytes()).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn server_sent_events_carry_the_group_s_messages() {
    let (server, _) = start(sse::channel_routing()).await;
    let addr = server.local_addr();
    let mut events = Stream::get(addr, "/events/").await;
    events.until(": open\n\n").await;
    let head = events.head();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    // Two publishes, in order, each an event of its own on the open response.
    publish(addr, "hello").await;
    events.until("data: hello\n\n").await;
    publish(addr, "two\nlines").await;
    events.until("data: two\ndata: lines\n\n").await;
    // The example's clock, into the same group: typed events that the stream's consumer formats.
    let clock = tokio::spawn(sse::clock(
        group!("events").with_layer(server.layer()),
        Duration::from_millis(10),
    ));
    events.until("event: tick\ndata: {").await;
    clock.abort();
}

#[tokio::test]
async fn text_sent_to_a_group_is_written_to_its_streams_as_is() {
    let (server, layer) = start(sse::channel_routing()).await;
    let mut events = Stream::get(server.local_addr(), "/events/").await;
    events.until(": open\n\n").await;
    assert_eq!(layer.group_len("events"), 1);
    group!("events")
        .with_layer(server.layer())
        .send_text("data: raw\n\n")
        .await
        .unwrap();
    events.until("data: raw\n\n").await;
}

#[tokio::test]
async fn the_example_s_long_poll_is_answered_by_a_published_message() {
    let (server, layer) = start(sse::channel_routing()).await;
    let addr = server.local_addr();
    // An open stream on the same group: once it has the message, the poll (sent before) has it too.
    let mut events = Stream::get(addr, "/events/").await;
    events.until(": open\n\n").await;
    let mut poll = Stream::get(addr, "/poll/").await;
    let joined = Arc::new(Notify::new());
    // The poll has joined when the group has two members; the layer says so, and nothing else can.
    let waiter = {
        let joined = joined.clone();
        let layer = layer.clone();
        tokio::spawn(async move {
            while layer.group_len("events") < 2 {
                tokio::task::yield_now().await;
            }
            joined.notify_one();
        })
    };
    tokio::time::timeout(GUARD, joined.notified())
        .await
        .expect("the poll joins the group");
    waiter.await.unwrap();
    publish(addr, "news").await;
    poll.read_whole_response("news").await;
    assert!(poll.head().starts_with("http/1.1 200"), "{}", poll.head());
    events.until("data: news\n\n").await;
}

impl Stream {
    /// Reads a whole (non-streaming) response whose body is `body`.
    async fn read_whole_response(&mut self, body: &str) {
        self.until(body).await;
        let text = self.text();
        assert!(text.ends_with(body), "{text:?}");
    }
}

/// A stream (`/stream/`) and a long-poll (`/held/`) that report what their consumers get.
fn reporting_routing(seen: mpsc::UnboundedSender<String>, started: Arc<Notify>) -> Routing {
    let stream = {
        let seen = seen.clone();
        Consumer::from_async("stream", move |m: Message| {
            let seen = seen.clone();
            let started = started.clone();
            async move {
                let _ = seen.send(m.channel().to_owned());
                match m.channel() {
                    "http.request" => {
                        Group::new("g")?.add(&m.reply_channel).await?;
                        m.reply_channel
                            .send(json!({"type": "http.response.start", "status": 200,
                                         "headers": [["content-type", "text/plain"]]}))
                            .await?;
                        m.reply_channel
                            .send(json!({"type": "http.response.body", "body": "started;", "more_body": true}))
                            .await?;
                        started.notify_one();
                        Ok(())
                    }
                    "app.say" => {
                        let text = m.content["text"].as_str().unwrap_or_default().to_owned();
                        m.reply_channel.send_body(text).await
                    }
                    "app.end" => m.reply_channel.end_body().await,
                    "app.fail" => Err(Error::InvalidMessage("failing on purpose".into())),
                    _ => Ok(()),
                }
            }
        })
    };
    let held = Consumer::from_async("held", move |m: Message| {
        let seen = seen.clone();
        async move {
            let _ = seen.send(format!("held {}", m.channel()));
            match m.channel() {
                "http.request" => {
                    Group::new("h")?.add(&m.reply_channel).await?;
                    m.reply_channel.hold_response().await
                }
                "app.say" => {
                    let text = m.content["text"].as_str().unwrap_or_default().to_owned();
                    m.reply_channel.respond(HttpResponse::text(text)).await
                }
                _ => Ok(()),
            }
        }
    });
    Routing::new()
        .route(Route::to("http.request", Some(r"^/stream/$"), stream))
        .route(Route::to("http.request", Some(r"^/held/$"), held))
}

async fn next(seen: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(GUARD, seen.recv())
        .await
        .expect("a consumer run in time")
        .expect("the routing lives")
}

/// A server on `reporting_routing` with `config`, and a client's `/stream/` already started: read past
/// `started;`, and the consumer's `http.request` report taken. The server, its layer, the reports to
/// come, the stream.
async fn a_started_stream(
    config: ServerConfig,
) -> (
    ServerHandle,
    InMemoryLayer,
    mpsc::UnboundedReceiver<String>,
    Stream,
) {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let (server, layer) = start_with(reporting_routing(tx, Arc::new(Notify::new())), config).await;
    let mut stream = Stream::get(server.local_addr(), "/stream/").await;
    stream.until("started;").await;
    assert_eq!(next(&mut seen).await, "http.request");
    (server, layer, seen, stream)
}

/// Sends `event` to `group` on `server`'s layer.
async fn send_to_group(server: &ServerHandle, group: &str, event: serde_json::Value) {
    Group::new(group)
        .unwrap()
        .with_layer(server.layer())
        .send(event)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stream_takes_group_events_until_its_consumer_ends_the_body() {
    let (server, layer, mut seen, mut stream) = a_started_stream(ServerConfig::default()).await;
    let group = Group::new("g").unwrap().with_layer(server.layer());
    group
        .send(json!({"type": "app.say", "text": "one;"}))
        .await
        .unwrap();
    stream.until("one;").await;
    group
        .send(json!({"type": "app.say", "text": "two;"}))
        .await
        .unwrap();
    stream.until("two;").await;
    group.send(json!({"type": "app.end"})).await.unwrap();
    // The body ends with the last chunk (`0\r\n\r\n`); the connection stays usable (keep-alive).
    stream.until("0\r\n\r\n").await;
    assert_eq!(next(&mut seen).await, "app.say");
    assert_eq!(next(&mut seen).await, "app.say");
    assert_eq!(next(&mut seen).await, "app.end");
    // Ended by its consumer: the reply channel has left the group (before the body's end went out)...
    assert_eq!(layer.group_len("g"), 0);
    // ... and the client leaving now is no disconnect: the next run is the next request's.
    drop(stream);
    let _held = Stream::get(server.local_addr(), "/held/").await;
    assert_eq!(next(&mut seen).await, "held http.request");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_gets_its_consumer_disconnected_and_its_group_left() {
    let (server, layer, mut seen, stream) = a_started_stream(ServerConfig::default()).await;
    assert_eq!(layer.group_len("g"), 1);
    drop(stream); // the client goes away with the response still open
    assert_eq!(next(&mut seen).await, "http.disconnect");
    // The reply channel closed before `http.disconnect` ran: the group is left.
    assert_eq!(layer.group_len("g"), 0);
    // And a group event sent now reaches no one.
    send_to_group(&server, "g", json!({"type": "app.say", "text": "late"})).await;
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn a_held_request_is_answered_by_a_group_event() {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let (server, layer) = start(reporting_routing(tx, Arc::new(Notify::new()))).await;
    let addr = server.local_addr();
    let mut held = Stream::get(addr, "/held/").await;
    assert_eq!(next(&mut seen).await, "held http.request");
    assert_eq!(layer.group_len("h"), 1);
    send_to_group(&server, "h", json!({"type": "app.say", "text": "answer"})).await;
    held.read_whole_response("answer").await;
    assert!(held.head().starts_with("http/1.1 200"), "{}", held.head());
    assert_eq!(next(&mut seen).await, "held app.say");
}

#[tokio::test]
async fn a_held_request_whose_client_leaves_gets_http_disconnect() {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let (server, layer) = start(reporting_routing(tx, Arc::new(Notify::new()))).await;
    let held = Stream::get(server.local_addr(), "/held/").await;
    assert_eq!(next(&mut seen).await, "held http.request");
    drop(held);
    assert_eq!(next(&mut seen).await, "held http.disconnect");
    assert_eq!(layer.group_len("h"), 0);
}

#[tokio::test]
async fn a_held_request_that_gets_no_answer_times_out_with_503() {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let config = ServerConfig::default().http_timeout(Duration::from_millis(50));
    let (server, _) = start_with(reporting_routing(tx, Arc::new(Notify::new())), config).await;
    let mut held = Stream::get(server.local_addr(), "/held/").await;
    held.until("Service Unavailable").await;
    assert!(held.head().starts_with("http/1.1 503"), "{}", held.head());
    assert_eq!(next(&mut seen).await, "held http.request");
    assert_eq!(next(&mut seen).await, "held http.disconnect");
}

#[tokio::test]
async fn a_started_stream_outlives_the_http_timeout() {
    let config = ServerConfig::default().http_timeout(Duration::from_millis(1));
    let (server, _, _seen, mut stream) = a_started_stream(config).await;
    // Well past the timeout (an event, not a sleep, is what the stream waits for: the timer only makes
    // sure the timeout would have fired), the stream still takes events.
    tokio::time::sleep(Duration::from_millis(20)).await;
    send_to_group(
        &server,
        "g",
        json!({"type": "app.say", "text": "still here"}),
    )
    .await;
    stream.until("still here").await;
}

#[tokio::test]
async fn a_stream_whose_client_stops_reading_is_cut_at_the_outbound_budget() {
    let config = ServerConfig::default().outbound_budget(64 * 1024);
    let (server, layer, mut seen, _stream) = a_started_stream(config).await;
    // The client reads no more. Chunks fill the socket's buffers and hyper's, then wait in the reply
    // channel, whose budget they pass: the stream is cut, as a WebSocket would be closed with 1013. The
    // loop is bounded (at most 100 MiB offered, one shared payload) and stops at the cut.
    let group = Group::new("g").unwrap().with_layer(server.layer());
    let chunk = "x".repeat(256 * 1024);
    let mut sent = 0;
    while layer.group_len("g") > 0 && sent < 400 {
        group.send_text(chunk.as_str()).await.unwrap();
        sent += 1;
        tokio::task::yield_now().await;
    }
    assert!(sent < 400, "the stream was never cut");
    assert_eq!(next(&mut seen).await, "http.disconnect");
    assert!(server.slow_clients().closed_over_budget >= 1);
}

#[tokio::test]
async fn a_server_shutdown_ends_open_streams_cleanly_and_disconnects_them() {
    let (server, _, mut seen, mut stream) = a_started_stream(ServerConfig::default()).await;
    server.shutdown(Duration::from_secs(1)).await;
    // The body ends with its last chunk: the client has a whole response, not a cut one.
    stream.until("0\r\n\r\n").await;
    assert_eq!(next(&mut seen).await, "http.disconnect");
}

#[tokio::test]
async fn a_consumer_that_fails_mid_stream_cuts_the_body_short() {
    let (server, _, mut seen, mut stream) = a_started_stream(ServerConfig::default()).await;
    send_to_group(&server, "g", json!({"type": "app.fail"})).await;
    let first = next(&mut seen).await;
    assert_eq!(first, "app.fail");
    let second = next(&mut seen).await;
    assert_eq!(second, "http.disconnect");
    // The connection is aborted: no last chunk, so the client can tell the body is incomplete.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(GUARD, stream.socket.read_to_end(&mut rest))
        .await
        .expect("the connection ends in time");
    stream.seen.extend_from_slice(&rest);
    assert!(!stream.text().contains("0\r\n\r\n"), "{:?}", stream.text());
}
