//! Observability, as an operator sees it: the `echo` example started as a real process with
//! `--metrics-bind`, real clients over real sockets, then its Prometheus endpoint and its stderr (the
//! access log and the connection spans). And, in process, that a consumer's error is logged inside its
//! connection's span.
//!
//! A metrics recorder is process-wide and this test binary runs many tests at once, so the metrics are
//! read from a child process of their own: this same test binary, re-run with only
//! [`serve_as_child`] (ignored in normal runs), which serves the `echo` example's routing through the
//! examples' own options (`examples/common`).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channels::prelude::*;
use channels::testing::WebsocketCommunicator;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{self, GUARD};
use crate::interop_support::{ChildGuard, PROCESS_GUARD};

#[path = "../../examples/common/mod.rs"]
#[allow(dead_code)]
mod example_common;

/// Set in the child's environment: `serve_as_child` serves only when it is.
const CHILD: &str = "CHANNELS_OBSERVABILITY_CHILD";

/// Not a test: the server process the tests below start (this binary, re-run with `--ignored --exact`).
/// It serves `echo` on a free port, with its metrics on another, as `cargo run --example echo --
/// --bind 127.0.0.1:0 --metrics-bind 127.0.0.1:0` would, until it is killed.
#[tokio::test]
#[ignore = "the server process of the observability tests; they start it themselves"]
async fn serve_as_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let args = example_common::Args::parse_from([
        "echo",
        "--bind",
        "127.0.0.1:0",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    example_common::init_logging();
    // What `common::serve` does, with these arguments instead of the process's.
    let server = args
        .server(crate::echo::channel_routing())
        .await
        .expect("the example's options");
    args.run(server).await.expect("the server runs");
}

/// The child server: its process, where it serves, and where its metrics are.
struct Child {
    process: ChildGuard,
    addr: SocketAddr,
    metrics: SocketAddr,
}

/// Starts the child server with `RUST_LOG=rust_log`; waits (bounded) until it says where it listens.
async fn start_child(rust_log: &str) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "observability::serve_as_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("RUST_LOG", rust_log)
        .env("NO_COLOR", "1");
    let mut process = ChildGuard::spawn("observability-echo", &mut command);
    let deadline = Instant::now() + PROCESS_GUARD;
    loop {
        process.assert_running();
        let log = process.log();
        let addr = address_after(&log, "Listening on http://");
        let metrics = address_after(&log, "Metrics on http://");
        if let (Some(addr), Some(metrics)) = (addr, metrics) {
            return Child {
                process,
                addr,
                metrics,
            };
        }
        assert!(
            Instant::now() < deadline,
            "the child did not start in time:\n{log}"
        );
        // A child's output is not an event this test can await: look again shortly.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `HOST:PORT` printed after `prefix` (up to the next `/`).
fn address_after(log: &str, prefix: &str) -> Option<SocketAddr> {
    let rest = &log[log.find(prefix)? + prefix.len()..];
    rest[..rest.find('/')?].parse().ok()
}

/// The child's metrics, scraped: every sample line as (series, value), e.g.
/// `channels_connections_rejected_total{status="400"}` → 1.
async fn scrape(child: &Child) -> Vec<(String, f64)> {
    let (status, body) = common::http_get(child.metrics, "/metrics").await;
    assert_eq!(status, 200, "GET /metrics: {body}");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Scrapes until `done` holds (bounded by [`GUARD`]); the last scrape.
async fn scrape_until(
    child: &mut Child,
    done: impl Fn(&[(String, f64)]) -> bool,
) -> Vec<(String, f64)> {
    let deadline = Instant::now() + GUARD;
    loop {
        let samples = scrape(child).await;
        if done(&samples) {
            return samples;
        }
        child.process.assert_running();
        assert!(
            Instant::now() < deadline,
            "the metrics never got there:\n{samples:?}"
        );
        // Published at the server's next tick, which the test can't await: look again shortly.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of `series` in a scrape (`None` when the series is absent).
fn value(samples: &[(String, f64)], series: &str) -> Option<f64> {
    samples
        .iter()
        .find(|(name, _)| name == series)
        .map(|(_, value)| *value)
}

/// A WebSocket handshake without `Sec-WebSocket-Key`: refused with 400 before any consumer runs.
const BAD_HANDSHAKE: &[u8] = b"GET /obs/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n\
Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Connects to `/obs/`, sends `n` texts and reads each echo.
async fn talk(addr: SocketAddr, n: usize) -> WebsocketCommunicator {
    let mut ws = common::connect(addr, "/obs/").await;
    for i in 0..n {
        let text = format!("message {i}");
        common::send_text(&mut ws, &text).await;
        assert_eq!(common::next_text(&mut ws).await, text);
    }
    ws
}

/// Closes `ws` with 1000 and a reason, and reads until the server's close reply.
async fn close(mut ws: WebsocketCommunicator) {
    ws.socket()
        .send(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .expect("close frame sent");
    let socket = ws.socket();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(GUARD, socket.next()).await {}
}

#[tokio::test]
async fn the_prometheus_endpoint_counts_connections_messages_and_refusals() {
    let mut child = start_child("warn").await;
    let before = scrape(&child).await;
    assert_eq!(
        value(&before, "channels_messages_received_total").unwrap_or(0.0),
        0.0
    );

    let ws = talk(child.addr, 3).await;
    let (status, _) = common::raw_request(child.addr, BAD_HANDSHAKE).await;
    assert_eq!(status, 400);
    let (status, _) = common::http_get(child.addr, "/no/http/route/").await;
    assert_eq!(status, 404);

    // The handshake and request counts are taken before the client sees the answer; the per-message
    // counts reach the recorder at the server's next clock tick (within 250 ms): scrape until they have.
    let open = scrape_until(&mut child, |samples| {
        value(samples, "channels_messages_received_total") == Some(3.0)
    })
    .await;
    let expect = [
        ("channels_connections_open", 1.0),
        ("channels_connections_accepted_total", 1.0),
        ("channels_connections_rejected_total{status=\"400\"}", 1.0),
        ("channels_http_requests_total{status=\"404\"}", 1.0),
        ("channels_messages_received_total", 3.0),
        ("channels_messages_sent_total", 3.0),
        ("channels_layer_dropped_total{layer=\"in_memory\"}", 0.0),
        ("channels_slow_client_dropped_total", 0.0),
    ];
    for (series, expected) in expect {
        assert_eq!(
            value(&open, series),
            Some(expected),
            "{series} in:\n{open:?}"
        );
    }
    assert!(
        value(&open, "channels_queued_bytes").is_some(),
        "channels_queued_bytes in:\n{open:?}"
    );

    // Closed: the gauge goes back once the disconnect has run, which the client can't see.
    close(ws).await;
    let closed = scrape_until(&mut child, |samples| {
        value(samples, "channels_connections_open") == Some(0.0)
            && value(samples, "channels_queued_bytes") == Some(0.0)
    })
    .await;
    assert_eq!(
        value(&closed, "channels_messages_sent_total"),
        Some(3.0),
        "{closed:?}"
    );
    let (status, _) = common::http_get(child.metrics, "/other").await;
    assert_eq!(status, 404, "the metrics port serves /metrics only");
}

/// The child's stderr, without colour codes, as lines.
fn log_lines(child: &Child) -> Vec<String> {
    let log = child.process.log();
    let mut plain = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain.lines().map(str::to_owned).collect()
}

/// The access log line that has every one of `parts`; panics with the log if none has.
fn access_line(child: &Child, parts: &[&str]) -> String {
    let lines = log_lines(child);
    lines
        .iter()
        .find(|line| line.contains("channels::access") && parts.iter().all(|p| line.contains(p)))
        .cloned()
        .unwrap_or_else(|| panic!("no access line with {parts:?} in:\n{}", lines.join("\n")))
}

/// The value of `field=` in a formatted span or event (up to the next space or `}`).
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=");
    let start = line
        .find(&key)
        .or_else(|| line.find(&format!("{{{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let rest = &line[start + key.len()..];
    &rest[..rest.find([' ', '}']).unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_access_log_has_a_line_per_request_handshake_and_close_inside_the_connection_span() {
    let child = start_child("info").await;
    let ws = talk(child.addr, 1).await;
    let (status, _) = common::raw_request(child.addr, BAD_HANDSHAKE).await;
    assert_eq!(status, 400);
    let (status, _) = common::http_get(child.addr, "/no/http/route/?token=secret").await;
    assert_eq!(status, 404);
    close(ws).await;

    // Each line is written before the client can see what it logs.
    let accepted = access_line(&child, &["accepted", "status=101"]);
    assert!(accepted.contains("peer=127.0.0.1:"), "{accepted}");
    assert!(accepted.contains("method=GET"), "{accepted}");
    assert!(
        !accepted.contains("websocket{"),
        "at `info` a connection has no span (it would cost every open connection): {accepted}"
    );
    let channel = field(&accepted, "channel");
    assert!(
        channel.contains("specific."),
        "the accept line names the reply channel: {accepted}"
    );

    let closed = access_line(&child, &["WebSocket closed", "code=1000"]);
    assert!(closed.contains("closed_by=\"client\""), "{closed}");
    assert!(closed.contains("peer=127.0.0.1:"), "{closed}");
    assert!(closed.contains("path="), "{closed}");
    assert_eq!(
        field(&closed, "channel"),
        channel,
        "the close line names the same reply channel: {closed}"
    );

    let refused = access_line(&child, &["status=400"]);
    assert!(refused.contains("why=\"bad handshake\""), "{refused}");

    let http = access_line(&child, &["http{", "status=404"]);
    assert!(http.contains("bytes="), "{http}");
    assert!(
        !http.contains("secret"),
        "the query string is not logged: {http}"
    );
}

#[tokio::test]
async fn rust_log_turns_the_access_log_off() {
    let child = start_child("info,channels::access=off").await;
    let ws = talk(child.addr, 1).await;
    let (status, _) = common::http_get(child.addr, "/no/http/route/").await;
    assert_eq!(status, 404);
    close(ws).await;
    // The lines would have been written before the client saw the answers.
    let lines = log_lines(&child);
    assert!(
        lines.iter().all(|line| !line.contains("channels::access")),
        "{}",
        lines.join("\n")
    );
    assert!(
        lines.iter().any(|line| line.contains("Listening on")),
        "the child's output is captured: {}",
        lines.join("\n")
    );
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Logs a line, then fails when asked to (as a consumer whose database is down would).
async fn failing(message: Message) -> Result<()> {
    tracing::info!("the consumer runs");
    if message.text() == Some("fail") {
        return Err(Error::InvalidMessage("the database is down".into()));
    }
    Ok(())
}

/// Set in the child's environment: `spans_as_child` runs only when it is.
const SPANS_CHILD: &str = "CHANNELS_SPANS_CHILD";

#[test]
fn a_consumers_events_and_its_error_are_logged_inside_the_connection_span() {
    // In a process of its own (this binary, re-run with `--ignored --exact`): tracing's level and interest
    // caches are global, and the other tests' subscribers coming and going on other threads could switch
    // the connection's `debug` span off for a moment (one failure in three full runs, none in 50 runs of
    // this test alone).
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "observability::spans_as_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SPANS_CHILD, "1")
        .output()
        .expect("the test binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// Not a test on its own: the body of the test above, in its own process.
#[test]
#[ignore = "run by a_consumers_events_and_its_error_are_logged_inside_the_connection_span in a process of its own"]
fn spans_as_child() {
    if std::env::var_os(SPANS_CHILD).is_none() {
        return;
    }
    // One thread: the subscriber set for it sees the server, its connections and the client.
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        // The connection span is at `debug` (`channels::connection`): on here.
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let routing = Routing::new()
            .route(Route::to(
                "websocket.receive",
                None,
                Consumer::from_async("failing", failing),
            ))
            .route(Route::to(
                "websocket.disconnect",
                None,
                Consumer::from_sync("sync_disconnect", |_: Message| {
                    tracing::info!("the sync disconnect runs");
                }),
            ));
        let (server, _) = common::start(routing).await;
        let mut ws = common::connect(server.local_addr(), "/spanned/").await;
        common::send_text(&mut ws, "fail").await;
        assert_eq!(common::close_code(&mut ws).await, 1011);
        // Its disconnect consumer has finished.
        tokio::time::timeout(GUARD, server.wait_for_connections(0))
            .await
            .expect("the connection ends");
    });
    let text = buffer.text();
    let line = |needle: &str| {
        text.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_owned()
    };
    let ran = line("the consumer runs");
    let failed = line("the database is down");
    let closed = line("WebSocket closed");
    let sync = line("the sync disconnect runs");
    for logged in [&ran, &failed, &closed, &sync] {
        assert!(
            logged.contains("websocket{path=\"/spanned/\"")
                || logged.contains("websocket{path=/spanned/"),
            "inside the connection's span: {logged}"
        );
        assert!(logged.contains("channel="), "{logged}");
    }
    assert_eq!(field(&ran, "channel"), field(&failed, "channel"));
    assert!(closed.contains("code=1011"), "{closed}");
    assert!(closed.contains("closed_by=\"server\""), "{closed}");
}

#[test]
fn the_readme_table_names_every_metric_and_only_those() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let source = std::fs::read_to_string(root.join("channels-runtime/src/metrics.rs"))
        .expect("channels-runtime/src/metrics.rs is readable");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let declared: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("pub const "))
        .filter_map(|line| line.split('"').nth(1))
        .collect();
    let section = &readme[readme
        .find("## Observability")
        .expect("README.md has an Observability section")..];
    let tabled: Vec<&str> = section
        .lines()
        .take_while(|line| !line.starts_with("**Prometheus"))
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split('`').next())
        .collect();
    assert_eq!(declared.len(), 12, "{declared:?}");
    assert_eq!(
        tabled, declared,
        "README's metrics table and channels::metrics differ"
    );
}
