//! Limits before the upgrade, over real sockets: a client that sends nothing, half a request head, or a
//! body slower than `min_body_rate` is dropped after `handshake_timeout` (the slow body with 408); a head
//! over `max_header_bytes` gets 431; past `max_connections` a handshake gets 503 (plain HTTP is still
//! served); and idle sockets can't exhaust the server's file descriptors (a server process under
//! `ulimit -n 64`, more idle sockets than that, then a fresh client still served). The examples'
//! command-line flags set these limits.

use std::net::SocketAddr;
use std::time::Duration;

use channels::prelude::*;
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, GUARD};
use crate::example_common;

/// `POST /upload/` answers 200 with the body's length; WebSockets on any other path echo.
fn routing() -> Routing {
    let upload = Consumer::from_async("upload", |m: Message| async move {
        let len = m.bytes().map_or(0, |b| b.len());
        m.reply_channel
            .respond(HttpResponse::text(len.to_string()))
            .await
    });
    let echo = Consumer::from_async("echo", |m: Message| async move {
        let text = m.text().unwrap_or_default().to_owned();
        m.reply_channel.send_text(text).await
    });
    Routing::new()
        .route(Route::to("http.request", Some(r"^/upload/$"), upload))
        .route(Route::to("websocket.receive", None, echo))
}

/// Waits for the server to end the connection; returns what it wrote before (maybe nothing).
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let ended = tokio::time::timeout(GUARD, stream.read_to_end(&mut got)).await;
    assert!(ended.is_ok(), "the server kept the connection open");
    got
}

/// The status code in an HTTP response's first line.
fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

fn quick(config: ServerConfig) -> ServerConfig {
    config.handshake_timeout(Duration::from_millis(200))
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_dropped_after_the_handshake_timeout() {
    let (server, _) = common::start_with(routing(), quick(ServerConfig::default())).await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn half_a_request_head_is_dropped_after_the_handshake_timeout() {
    let (server, _) = common::start_with(routing(), quick(ServerConfig::default())).await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        .await
        .expect("write");
    closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_dropped_though_bytes_keep_coming() {
    // Slowloris: the timeout bounds the whole head, it is not reset by each byte.
    let (server, _) = common::start_with(routing(), quick(ServerConfig::default())).await;
    let stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let trickle = async move {
        write.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
        // At most 200 bytes, one every 50 ms (10 s): far more than the 200 ms the head has.
        for _ in 0..200 {
            if write.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut got = Vec::new();
    tokio::select! {
        _ = read.read_to_end(&mut got) => {}
        () = trickle => panic!("the server kept a head that never ended"),
    }
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_dropped_after_the_handshake_timeout() {
    let (server, _) = common::start_with(routing(), quick(ServerConfig::default())).await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"POST /upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .expect("write");
    // The answer comes, the connection stays for another request, and is dropped when none comes.
    let got = closed_by_server(&mut stream).await;
    assert_eq!(status_of(&got), 200);
    assert!(String::from_utf8_lossy(&got).ends_with("\r\n\r\n2"));
}

#[tokio::test]
async fn a_body_slower_than_the_floor_rate_gets_408() {
    let config = quick(ServerConfig::default()).min_body_rate(1000);
    let (server, _) = common::start_with(routing(), config).await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    // 100 kB announced, 10 bytes sent: at 1000 bytes/s the body had 0.2 s + 10 ms for those.
    stream
        .write_all(b"POST /upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n0123456789")
        .await
        .expect("write");
    let got = closed_by_server(&mut stream).await;
    assert_eq!(status_of(&got), 408, "{}", String::from_utf8_lossy(&got));
}

#[tokio::test]
async fn a_body_at_full_speed_is_read_under_the_same_limits() {
    let config = quick(ServerConfig::default()).min_body_rate(1000);
    let (server, _) = common::start_with(routing(), config).await;
    let body = vec![b'x'; 100_000];
    let response =
        channels::testing::HttpCommunicator::new_to(server.local_addr(), "POST", "/upload/")
            .body(body)
            .get_response()
            .await
            .expect("a response in time");
    assert_eq!(
        (response.status, response.text()),
        (200, "100000".to_owned())
    );
}

fn head_with_header_of(path: &str, bytes: usize, upgrade: bool) -> String {
    // A plain request asks the server to close after answering, so that the answer ends.
    let upgrade = if !upgrade {
        "Connection: close\r\n"
    } else {
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n"
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{upgrade}X-Big: {}\r\n\r\n",
        "a".repeat(bytes)
    )
}

#[tokio::test]
async fn a_head_over_max_header_bytes_gets_431() {
    let (server, _) = common::start(routing()).await;
    let addr = server.local_addr();
    assert_eq!(ServerConfig::default().max_header_bytes, 16 << 10);
    // Within the default 16 KiB budget: served (no route: 404; a WebSocket: 101).
    let (status, _) =
        common::raw_request(addr, head_with_header_of("/", 12 << 10, false).as_bytes()).await;
    assert_eq!(status, 404);
    let _stream =
        common::raw_upgrade(addr, head_with_header_of("/", 12 << 10, true).as_bytes()).await;
    // Over it, a plain request or a handshake: 431, before any route is looked at.
    for upgrade in [false, true] {
        for bytes in [20 << 10, 400 << 10] {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            // The server may answer and close before it has read all of a large head: ignore a
            // failed write, read the answer.
            let _ = stream
                .write_all(head_with_header_of("/", bytes, upgrade).as_bytes())
                .await;
            let got = closed_by_server(&mut stream).await;
            assert_eq!(status_of(&got), 431, "{bytes} bytes, upgrade: {upgrade}");
        }
    }
}

#[tokio::test]
async fn a_smaller_header_budget_is_kept_too() {
    let config = ServerConfig::default().max_header_bytes(1024);
    let (server, _) = common::start_with(routing(), config).await;
    let (status, _) = common::raw_request(
        server.local_addr(),
        head_with_header_of("/", 2000, false).as_bytes(),
    )
    .await;
    assert_eq!(status, 431);
    let (status, _) = common::raw_request(
        server.local_addr(),
        head_with_header_of("/", 500, false).as_bytes(),
    )
    .await;
    assert_eq!(status, 404);
}

/// `max_connections` caps open WebSockets at `max` (third handshake 503 for 2) while plain HTTP is
/// served, and frees a place when one closes.
async fn check_connection_cap(addr: SocketAddr, server: &channels::ServerHandle) {
    let first = common::connect(addr, "/").await;
    let mut second = common::connect(addr, "/").await;
    assert_eq!(common::refused_status(addr, "/").await, 503);
    assert_eq!(common::refused_status(addr, "/").await, 503);
    // Plain HTTP is not counted.
    assert_eq!(common::http_get(addr, "/nowhere/").await.0, 404);
    // The two open ones still work.
    common::send_text(&mut second, "ok").await;
    assert_eq!(common::next_text(&mut second).await, "ok");
    first.disconnect().await.expect("close");
    server.wait_for_connections(1).await;
    let mut third = common::connect(addr, "/").await;
    common::send_text(&mut third, "in").await;
    assert_eq!(common::next_text(&mut third).await, "in");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn past_max_connections_a_handshake_gets_503() {
    let config = ServerConfig::default().max_connections(2);
    let (server, _) = common::start_with(routing(), config).await;
    check_connection_cap(server.local_addr(), &server).await;
}

#[tokio::test]
async fn many_handshakes_at_once_never_open_more_than_max_connections() {
    let config = ServerConfig::default().max_connections(5);
    let (server, _) = common::start_with(routing(), config).await;
    let addr = server.local_addr();
    let attempts: Vec<_> = (0..40)
        .map(|_| {
            tokio::spawn(channels::testing::WebsocketCommunicator::connect_to(
                addr, "/",
            ))
        })
        .collect();
    let mut open = Vec::new();
    let mut refused = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(ws) => open.push(ws),
            Err(channels::testing::TestError::Refused(503)) => refused += 1,
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert!(open.len() <= 5, "{} open", open.len());
    assert!(!open.is_empty());
    assert_eq!(open.len() + refused, 40);
    assert!(server.connections() <= 5);
}

/// The examples' flags (`examples/common`): parsed as `echo` would parse them, they set the limits.
#[tokio::test]
async fn an_example_started_with_limit_flags_keeps_them() {
    let args = example_common::Args::try_parse_from([
        "echo",
        "--bind",
        "127.0.0.1:0",
        "--max-connections",
        "2",
        "--ping-interval-ms",
        "50",
        "--ping-timeout-ms",
        "5000",
        "--handshake-timeout-ms",
        "200",
    ])
    .expect("flags parse");
    let config = args.config(ServerConfig::default());
    assert_eq!(config.max_connections, Some(2));
    assert_eq!(config.ping_interval, Some(Duration::from_millis(50)));
    assert_eq!(config.ping_timeout, Duration::from_millis(5000));
    assert_eq!(config.handshake_timeout, Duration::from_millis(200));
    let server = args
        .server(crate::echo::channel_routing())
        .await
        .expect("server")
        .spawn(&args.bind)
        .await
        .expect("server starts");
    let addr = server.local_addr();
    // --max-connections 2: the third handshake gets 503.
    let mut first = common::connect(addr, "/").await;
    let _second = common::connect(addr, "/").await;
    assert_eq!(common::refused_status(addr, "/").await, 503);
    // --ping-interval-ms 50: the server pings.
    use futures_util::StreamExt;
    let frame = tokio::time::timeout(GUARD, first.socket().next())
        .await
        .expect("a ping in time")
        .expect("open")
        .expect("a frame");
    assert!(frame.is_ping(), "{frame:?}");
    // --handshake-timeout-ms 200: a silent socket is dropped.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    closed_by_server(&mut stream).await;
    // Without flags, ServerConfig's defaults (or the example's own).
    let defaults = example_common::Args::try_parse_from(["echo"]).expect("parse");
    let config = defaults.config(ServerConfig::default());
    assert_eq!(config.max_connections, None);
    assert_eq!(config.ping_interval, Some(Duration::from_secs(20)));
    assert_eq!(config.handshake_timeout, Duration::from_secs(10));
}

/// Set in the environment of the child server process of the file descriptor test.
const FD_CHILD: &str = "CHANNELS_TEST_FD_CHILD";

/// The server process of [`idle_sockets_cannot_exhaust_file_descriptors`]: run by that test (this test
/// binary, again, under `ulimit -n 64`), it serves `echo` with a 300 ms handshake timeout, prints its
/// address, and stops when its stdin closes (at most after a minute).
#[tokio::test]
#[ignore = "the server process of idle_sockets_cannot_exhaust_file_descriptors"]
async fn fd_child_server() {
    if std::env::var_os(FD_CHILD).is_none() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let config = ServerConfig::default().handshake_timeout(Duration::from_millis(300));
    let server = Server::new(crate::echo::channel_routing())
        .with_config(config)
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts");
    println!("ADDR {}", server.local_addr());
    let (closed, stdin_closed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::Read::read(&mut std::io::stdin(), &mut [0u8; 1]);
        let _ = closed.send(());
    });
    let _ = tokio::time::timeout(Duration::from_secs(60), stdin_closed).await;
}

/// The child server process; killed (by its id) if the test fails before it ends.
struct ChildServer(std::process::Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn idle_sockets_cannot_exhaust_file_descriptors() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("test binary");
    let mut child = ChildServer(
        Command::new("bash")
            .arg("-c")
            .arg(r#"ulimit -n 64 && exec "$0" "$@""#)
            .arg(exe)
            .args([
                "server_limits::fd_child_server",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(FD_CHILD, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server process"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let stderr = child.0.stderr.take().expect("stderr");
    // Read in threads of their own: the pipes are blocking.
    let logs = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let (found, address) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        // Read to the end: a closed pipe would fail the child's last words.
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest prints the test's name on the same line, before it.
            if let Some((_, addr)) = line.split_once("ADDR ")
                && let Some(found) = found.take()
            {
                let _ = found.send(addr.to_owned());
            }
        }
    });
    let addr: SocketAddr = tokio::time::timeout(GUARD, address)
        .await
        .expect("the server process starts in time")
        .expect("the server process printed its address")
        .parse()
        .expect("an address");

    // Two waves of 100 idle sockets, each more than the 64 descriptors the server has: each socket is
    // accepted (once a descriptor is free) and closed after the handshake timeout.
    for _wave in 0..2 {
        let mut idle = Vec::new();
        for _ in 0..100 {
            idle.push(TcpStream::connect(addr).await.expect("connect"));
        }
        for mut stream in idle {
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(GUARD, stream.read(&mut byte))
                .await
                .expect("the server closed an idle socket in time");
            assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        }
    }
    // A fresh client is served.
    let mut ws = common::connect(addr, "/").await;
    common::send_text(&mut ws, "after the flood").await;
    assert_eq!(common::next_text(&mut ws).await, "after the flood");
    drop(ws);

    // Closing its stdin stops the server process.
    drop(child.0.stdin.take());
    let logs = tokio::task::spawn_blocking(move || logs.join().unwrap_or_default())
        .await
        .expect("join");
    // The test did reach the limit: the accept loop ran out of descriptors, said so, and kept going.
    let status = child.0.wait().expect("wait");
    assert!(
        logs.contains("accept failed"),
        "the server never ran out of descriptors: {logs}"
    );
    assert!(status.success(), "{status:?}: {logs}");
}

/// `--allowed-origin` (repeatable) adds origins to the server's own host; others get 403.
#[tokio::test]
async fn an_example_started_with_allowed_origins_admits_them_only() {
    use channels::testing::{TestError, WebsocketCommunicator};
    let args = example_common::Args::try_parse_from([
        "echo",
        "--allowed-origin",
        "https://app.example.com",
        "--allowed-origin",
        "https://*.example.org",
    ])
    .expect("flags parse");
    let server = args
        .server(crate::echo::channel_routing())
        .await
        .expect("server")
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts");
    let addr = server.local_addr();
    for allowed in ["https://app.example.com", "https://chat.example.org"] {
        let mut ws = WebsocketCommunicator::build_to(addr, "/")
            .origin(allowed)
            .connect()
            .await
            .unwrap_or_else(|error| panic!("{allowed} refused: {error}"));
        common::send_text(&mut ws, "hi").await;
        assert_eq!(common::next_text(&mut ws).await, "hi");
    }
    for refused in ["https://evil.example", "https://example.com"] {
        match WebsocketCommunicator::build_to(addr, "/")
            .origin(refused)
            .connect()
            .await
        {
            Err(TestError::Refused(status)) => assert_eq!(status, 403, "{refused}"),
            Err(other) => panic!("{refused}: {other}"),
            Ok(_) => panic!("{refused} was let in"),
        }
    }
}

/// hyper's buffer is capped at the head budget: that caps what a client can make it read before the
/// head ends, not what a response may hold.
#[tokio::test]
async fn the_head_budget_does_not_cap_responses() {
    let big = Consumer::from_async("big", |m: Message| async move {
        m.reply_channel
            .respond(HttpResponse::text(vec![b'y'; 3 << 20]))
            .await
    });
    let config = ServerConfig::default().max_header_bytes(1024);
    let routing = Routing::new().route(Route::to("http.request", None, big));
    let (server, _) = common::start_with(routing, config).await;
    let (status, body) = common::http_get(server.local_addr(), "/").await;
    assert_eq!((status, body.len()), (200, 3 << 20));
}
