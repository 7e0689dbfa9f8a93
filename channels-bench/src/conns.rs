//! The `conns` scenario: hold `C` connections and measure the server's memory per connection.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::client;
use crate::proc::ServerProc;
use crate::report::Report;
use crate::stats::{round1, round3};

/// What to run.
#[derive(Debug, Clone)]
pub struct ConnsOptions {
    /// `ws://127.0.0.x:PORT/path` of an echo server.
    pub url: String,
    /// Connections to hold. Connection `i` comes from `127.0.0.(1 + i / per_source)`.
    pub connections: usize,
    /// Connections per source address (default 25,000; each address has ~28,000 ephemeral ports).
    pub per_source: usize,
    /// Exchange one message on each connection (send a text, wait for the echo) before measuring.
    pub exchange: bool,
    /// How long to hold every connection open after measuring.
    pub hold: Duration,
    /// How long to let the server settle before each RSS reading.
    pub settle: Duration,
    /// Handshakes in flight while connecting.
    pub parallel_connects: usize,
    /// The whole run's deadline.
    pub timeout: Duration,
}

impl Default for ConnsOptions {
    fn default() -> Self {
        ConnsOptions {
            url: "ws://127.0.0.1:8000/".into(),
            connections: 10_000,
            per_source: client::CONNS_PER_SOURCE,
            exchange: true,
            hold: Duration::from_secs(1),
            settle: Duration::from_millis(500),
            parallel_connects: 128,
            timeout: Duration::from_secs(180),
        }
    }
}

/// Runs the scenario; without `server` it only checks that the connections open (and echo).
pub async fn run(options: &ConnsOptions, server: Option<ServerProc>) -> Report {
    let mut report = Report::default();
    let Some(target) = report.target(&options.url) else {
        return report;
    };
    let deadline = Instant::now() + options.timeout;
    let before = match server {
        Some(s) => Some(s.sample_after(options.settle).await),
        None => None,
    };
    let start = Instant::now();
    let Some(mut conns) = report.ok(client::connect_many(
        &target,
        options.connections,
        options.parallel_connects,
        Some(options.per_source),
        deadline,
    )
    .await) else {
        return report;
    };
    let connect_s = start.elapsed().as_secs_f64();
    // The server's CPU for the opening alone (TCP accept, HTTP upgrade, connect consumer), before any
    // message: what a connection costs to open, beside the rate the generator saw.
    let opened = server.as_ref().map(ServerProc::sample);
    let mut exchanged = 0usize;
    if options.exchange {
        for (i, ws) in conns.iter_mut().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            match client::exchange(ws, "hello", left.min(Duration::from_secs(10))).await {
                Ok(reply) if reply == "hello" => exchanged += 1,
                Ok(reply) => report.error(format!("connection {i}: reply {reply:?}")),
                Err(e) => report.error(format!("connection {i}: {e}")),
            }
            if Instant::now() >= deadline {
                report.error(format!(
                    "deadline passed after {i} exchanges of {}",
                    conns.len()
                ));
                break;
            }
        }
    }
    let after = match server {
        Some(s) => Some(s.sample_after(options.settle).await),
        None => None,
    };
    report.lines.push(format!(
        "conns: {} connections open in {connect_s:.2} s ({} sources), {exchanged} exchanged one message",
        conns.len(),
        options.connections.div_ceil(options.per_source.max(1))
    ));
    let mut summary = json!({
        "mode": "conns",
        "connections": conns.len(),
        "exchanged": exchanged,
        "connect_s": round3(connect_s),
        "connects_per_s": round1(conns.len() as f64 / connect_s.max(1e-9)),
        "sources": options.connections.div_ceil(options.per_source.max(1)),
        "errors": report.error_count,
    });
    let hold_until = (Instant::now() + options.hold).min(deadline);
    tokio::time::sleep_until(hold_until).await;
    if let (Some(before), Some(after)) = (before, after) {
        let n = conns.len().max(1) as f64;
        let per = (after.rss_bytes as f64 - before.rss_bytes as f64) / n;
        report.lines.push(format!(
            "conns: server RSS {:.1} MiB -> {:.1} MiB = {per:.0} B ({:.2} KiB) per connection; server CPU {:.2} s",
            before.rss_bytes as f64 / 1048576.0,
            after.rss_bytes as f64 / 1048576.0,
            per / 1024.0,
            after.cpu_since(&before)
        ));
        summary["rss_before_bytes"] = json!(before.rss_bytes);
        summary["rss_after_bytes"] = json!(after.rss_bytes);
        summary["rss_per_connection_bytes"] = json!(round1(per));
        summary["server_cpu_s"] = json!(round3(after.cpu_since(&before)));
        if let Some(opened) = opened {
            let per_open = opened.sched_since(&before) / n * 1e6;
            report.lines.push(format!(
                "conns: server CPU per connection opened {per_open:.1} µs (schedstat), {:.0} connections/s",
                conns.len() as f64 / connect_s.max(1e-9)
            ));
            summary["server_cpu_us_per_connect"] = json!(round3(per_open));
        }
    }
    drop(conns);
    if let Some(s) = server {
        let closed = s.sample_after(Duration::from_secs(1)).await;
        report.lines.push(format!(
            "conns: server RSS 1 s after closing them all: {:.1} MiB",
            closed.rss_bytes as f64 / 1048576.0
        ));
        summary["rss_after_close_bytes"] = json!(closed.rss_bytes);
    }
    report.summary = summary;
    report
}
