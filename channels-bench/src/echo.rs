//! The `echo` scenario: `C` connections × `M` messages against an echo server.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::proc::ServerProc;
pub use crate::report::Report;
use crate::stats::{Latencies, round1, round3};

/// What to run.
#[derive(Debug, Clone)]
pub struct EchoOptions {
    /// `ws://127.0.0.x:PORT/path` of an echo server.
    pub url: String,
    /// Connections opened before the timed part starts.
    pub connections: usize,
    /// Messages each connection sends.
    pub messages: usize,
    /// Bytes per message (at least 10: a zero-padded sequence number, then `x`s).
    pub payload: usize,
    /// Messages in flight per connection (1 = strict request/response).
    pub depth: usize,
    /// Handshakes in flight while connecting.
    pub parallel_connects: usize,
    /// The whole run's deadline, connecting included.
    pub timeout: Duration,
}

impl Default for EchoOptions {
    fn default() -> Self {
        EchoOptions {
            url: "ws://127.0.0.1:8000/".into(),
            connections: 50,
            messages: 1_000,
            payload: 32,
            depth: 1,
            parallel_connects: 64,
            timeout: Duration::from_secs(60),
        }
    }
}

/// The text of message `seq`: the sequence number on 10 digits, padded with `x` to `size` bytes.
fn payload(seq: usize, pad: &str) -> String {
    format!("{seq:010}{pad}")
}

struct ConnOutcome {
    latencies: Latencies,
    received: u64,
    error: Option<String>,
}

async fn one_connection(
    mut ws: Ws,
    messages: usize,
    size: usize,
    depth: usize,
    deadline: Instant,
) -> ConnOutcome {
    let pad = "x".repeat(size.saturating_sub(10));
    let mut latencies = Latencies::with_capacity(messages);
    let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(depth);
    let (mut sent, mut received) = (0usize, 0usize);
    let mut error = None;
    while received < messages {
        let mut fed = false;
        while sent < messages && sent - received < depth {
            if let Err(e) = ws.feed(Message::text(payload(sent, &pad))).await {
                error = Some(format!("send: {e}"));
                break;
            }
            sent_at.push_back(Instant::now());
            sent += 1;
            fed = true;
        }
        if error.is_some() {
            break;
        }
        if fed && let Err(e) = ws.flush().await {
            error = Some(format!("flush: {e}"));
            break;
        }
        let text = match tokio::time::timeout_at(deadline, client::next_text(&mut ws)).await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => {
                error = Some(e);
                break;
            }
            Err(_) => {
                error = Some(format!(
                    "deadline passed with {received} of {messages} replies"
                ));
                break;
            }
        };
        let now = Instant::now();
        if let Some(at) = sent_at.pop_front() {
            latencies.record(now.duration_since(at).as_nanos() as u64);
        }
        let seq = text.get(..10).and_then(|s| s.parse::<usize>().ok());
        if seq != Some(received) || text.len() != size.max(10) {
            error = Some(format!(
                "reply {received} is wrong: got {:?}…",
                text.get(..20.min(text.len()))
            ));
            break;
        }
        received += 1;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    ConnOutcome {
        latencies,
        received: received as u64,
        error,
    }
}

/// Runs the scenario. With `server`, reports its CPU time per message (from after the connections are open
/// to the last reply).
pub async fn run(options: &EchoOptions, server: Option<ServerProc>) -> Report {
    let mut report = Report::default();
    let Some(target) = report.target(&options.url) else {
        return report;
    };
    let deadline = Instant::now() + options.timeout;
    let Some(conns) = report.ok(client::connect_many(
        &target,
        options.connections,
        options.parallel_connects,
        None,
        deadline,
    )
    .await) else {
        return report;
    };
    let before = server.map(|s| s.sample());
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for ws in conns {
        tasks.spawn(one_connection(
            ws,
            options.messages,
            options.payload,
            options.depth.max(1),
            deadline,
        ));
    }
    let mut latencies = Latencies::with_capacity(options.connections * options.messages);
    let mut received = 0u64;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcome) => {
                received += outcome.received;
                latencies.merge(outcome.latencies);
                if let Some(e) = outcome.error {
                    report.error(e);
                }
            }
            Err(e) => report.error(format!("connection task: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after = server.map(|s| s.sample());
    let expected = (options.connections * options.messages) as u64;
    report.lost = expected.saturating_sub(received);
    let rate = received as f64 / elapsed.max(1e-9);
    report.lines.push(format!(
        "echo: {} conns × {} msgs ({} B, depth {}): {received}/{expected} replies in {elapsed:.3} s = {rate:.0} msgs/s",
        options.connections, options.messages, options.payload, options.depth
    ));
    report
        .lines
        .push(format!("echo: round trip {}", latencies.line()));
    let mut summary = json!({
        "mode": "echo",
        "connections": options.connections,
        "messages_per_connection": options.messages,
        "payload": options.payload,
        "depth": options.depth,
        "messages": received,
        "elapsed_s": round3(elapsed),
        "msgs_per_s": round1(rate),
        "rtt": latencies.summary(),
        "lost": report.lost,
        "errors": report.error_count,
    });
    report.server_cpu(&mut summary, "echo", "msg", received, (before, after));
    report.summary = summary;
    report
}
