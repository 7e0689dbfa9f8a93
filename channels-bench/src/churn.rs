//! The `churn` scenario: many short connections that end badly, then a look at what the server kept.
//!
//! Each cycle opens a WebSocket, sends one text and ends the connection one of three ways:
//! - **abrupt FIN**: waits for its own text to come back (the server ran the consumer), then drops the TCP
//!   socket without a close frame;
//! - **abrupt RST**: drops the socket right after sending, with `SO_LINGER` 0 (a reset, while the server may
//!   still be handling the text);
//! - **clean**: waits for its text, sends a close frame and waits for the server's close.
//!
//! At most `concurrency` cycles run at once. Before (after an optional warm-up) and after the cycles, once
//! the server has settled (readings polled until they stop changing, within a deadline), it reads the server's
//! open file descriptors, threads and RSS from `/proc/PID`, and, with a metrics URL, the gauges the server
//! exports (open connections, group members, live tasks). Against the chat protocol (every connection joins
//! one group, a text `T` comes back to every member as `"[user] T"`) or the echo protocol (`T` comes back
//! as `T`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Target};
use crate::proc::{Resources, ServerProc};
use crate::report::Report;
use crate::scrape::{Gauges, MetricsUrl};
use crate::stats::{Latencies, round1, round3};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChurnOptions {
    /// `ws://127.0.0.x:PORT/path` of a chat or echo server.
    pub url: String,
    /// Cycles per round.
    pub cycles: usize,
    /// Rounds: after each, the server settles and is read again (RSS that grows round after round is a
    /// leak; RSS that grows once is the allocator keeping its arenas).
    pub rounds: usize,
    /// Cycles before the start reading (their readings are the "cold" column).
    pub warmup: usize,
    /// Cycles in flight at once.
    pub concurrency: usize,
    /// Percentage of cycles that close cleanly (close frame, then the server's close).
    pub clean_percent: u8,
    /// Percentage of cycles that reset the connection right after sending (`SO_LINGER` 0), without
    /// waiting for the reply. The rest drop the socket (FIN, no close frame) once their text came back.
    pub rst_percent: u8,
    /// Bytes per text (at least the cycle's number).
    pub payload: usize,
    /// Connections per source address `127.0.0.x` (see [`client::source_for`]).
    pub per_source: usize,
    /// Deadline of one cycle.
    pub cycle_timeout: Duration,
    /// How long the readings must stay unchanged for the server to count as settled.
    pub settle_quiet: Duration,
    /// The longest wait for the server to settle, per reading.
    pub settle_deadline: Duration,
    /// Where the server exports its gauges in the Prometheus text format (`http://127.0.0.1:PORT/metrics`).
    pub metrics_url: Option<String>,
    /// The whole run's deadline (settling excluded).
    pub timeout: Duration,
}

impl Default for ChurnOptions {
    fn default() -> Self {
        ChurnOptions {
            url: "ws://127.0.0.1:8000/".into(),
            cycles: 20_000,
            rounds: 1,
            warmup: 0,
            concurrency: 50,
            clean_percent: 10,
            rst_percent: 20,
            payload: 32,
            per_source: client::CONNS_PER_SOURCE,
            cycle_timeout: Duration::from_secs(10),
            settle_quiet: Duration::from_secs(3),
            settle_deadline: Duration::from_secs(30),
            metrics_url: None,
            timeout: Duration::from_secs(300),
        }
    }
}

/// How a cycle ends its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Socket dropped (FIN) without a close frame, after the text came back.
    AbruptFin,
    /// Socket reset (`SO_LINGER` 0) right after sending.
    AbruptRst,
    /// Close frame, then the server's close.
    Clean,
}

impl Ending {
    const ALL: [Ending; 3] = [Ending::AbruptFin, Ending::AbruptRst, Ending::Clean];

    fn name(self) -> &'static str {
        match self {
            Ending::AbruptFin => "abrupt_fin",
            Ending::AbruptRst => "abrupt_rst",
            Ending::Clean => "clean",
        }
    }

    /// The ending of cycle `i`: the percentages spread over every 100 cycles (37 is prime to 100, so
    /// `i * 37 % 100` visits each residue once per 100 cycles).
    fn of(i: usize, options: &ChurnOptions) -> Ending {
        let k = (i * 37) % 100;
        let clean = usize::from(options.clean_percent.min(100));
        let rst = usize::from(options.rst_percent.min(100));
        if k < clean {
            Ending::Clean
        } else if k < clean + rst {
            Ending::AbruptRst
        } else {
            Ending::AbruptFin
        }
    }
}

/// One reading of the server.
#[derive(Debug, Clone, Default)]
struct Reading {
    resources: Resources,
    gauges: Gauges,
}

impl Reading {
    /// The values the settle loop watches, in a fixed order (RSS in 64 KiB steps: it jitters).
    fn watched(&self) -> Vec<f64> {
        let mut values = vec![
            self.resources.fds as f64,
            self.resources.threads as f64,
            (self.resources.rss_bytes >> 16) as f64,
        ];
        values.extend(self.gauges.values());
        values
    }
}

struct Probe {
    server: ServerProc,
    metrics: Option<MetricsUrl>,
}

impl Probe {
    async fn read(&self, report: &mut Report) -> Option<Reading> {
        let Some(resources) = self.server.resources() else {
            report.error(format!("server {} is gone", self.server.pid()));
            return None;
        };
        let gauges = match &self.metrics {
            None => Gauges::new(),
            Some(url) => match url.fetch(Duration::from_secs(5)).await {
                Ok(gauges) => gauges,
                Err(e) => {
                    report.error(format!("metrics: {e}"));
                    Gauges::new()
                }
            },
        };
        Some(Reading { resources, gauges })
    }

    /// Polls every 250 ms until the readings stay unchanged for `quiet`, or `deadline` passes. Returns
    /// the last reading and how long it took.
    async fn settle(
        &self,
        report: &mut Report,
        quiet: Duration,
        deadline: Duration,
    ) -> Option<(Reading, f64, bool)> {
        let start = Instant::now();
        let mut last = self.read(report).await?;
        let mut since = Instant::now();
        loop {
            if since.elapsed() >= quiet {
                return Some((last, start.elapsed().as_secs_f64(), true));
            }
            if start.elapsed() >= deadline {
                return Some((last, start.elapsed().as_secs_f64(), false));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.read(report).await?;
            if now.watched() != last.watched() {
                since = Instant::now();
            }
            last = now;
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    ok: u64,
    failed: u64,
}

/// Runs one cycle.
async fn cycle(
    target: &Target,
    source: Option<std::net::IpAddr>,
    i: usize,
    ending: Ending,
    pad: &str,
    timeout: Duration,
) -> Result<(), String> {
    let run = async {
        let mut ws = client::connect(target, source, timeout).await?;
        let text = format!("churn {i} {pad}");
        ws.send(Message::text(text.as_str()))
            .await
            .map_err(|e| format!("send: {e}"))?;
        if ending == Ending::AbruptRst {
            ws.get_ref()
                .set_zero_linger()
                .map_err(|e| format!("SO_LINGER: {e}"))?;
            drop(ws);
            return Ok(());
        }
        // Our own text, from the group (`[user] T`) or an echo (`T`); other cycles' texts pass by.
        loop {
            let got = client::next_text(&mut ws).await?;
            if got.as_str() == text || got.strip_prefix("[user] ") == Some(text.as_str()) {
                break;
            }
        }
        if ending == Ending::Clean {
            ws.close(None).await.map_err(|e| format!("close: {e}"))?;
            // Until the server's close frame and the end of the stream.
            while let Some(Ok(_)) = ws.next().await {}
        }
        drop(ws);
        Ok(())
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("cycle did not finish within {timeout:?}"))?
}

/// Peak readings while cycles run (sampled every 200 ms).
#[derive(Debug, Default)]
struct Peak {
    resources: Resources,
    gauges: Gauges,
}

impl Peak {
    fn observe(&mut self, reading: &Reading) {
        let (r, p) = (&reading.resources, &mut self.resources);
        p.fds = p.fds.max(r.fds);
        p.threads = p.threads.max(r.threads);
        p.rss_bytes = p.rss_bytes.max(r.rss_bytes);
        for (name, value) in &reading.gauges {
            let peak = self.gauges.entry(name.clone()).or_insert(*value);
            *peak = peak.max(*value);
        }
    }
}

/// Runs `count` cycles numbered from `first`, tallying each ending; returns the wall time and the cycle
/// durations.
#[allow(clippy::too_many_arguments)]
async fn run_cycles(
    target: &Target,
    options: &ChurnOptions,
    first: usize,
    count: usize,
    tallies: &mut [Tally; 3],
    latencies: &mut Latencies,
    report: &mut Report,
    deadline: Instant,
) -> f64 {
    let permits = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let pad: Arc<str> = Arc::from("x".repeat(options.payload.saturating_sub(12)));
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let mut record = |joined: Result<(Ending, Duration, Result<(), String>), _>,
                      report: &mut Report| match joined {
        Ok((ending, took, result)) => {
            let tally = &mut tallies[ending as usize];
            match result {
                Ok(()) => {
                    tally.ok += 1;
                    latencies.record(took.as_nanos() as u64);
                }
                Err(e) => {
                    tally.failed += 1;
                    report.error(format!("{} cycle: {e}", ending.name()));
                }
            }
        }
        Err(e) => report.error(format!("cycle task: {e}")),
    };
    for i in first..first + count {
        let Ok(Ok(permit)) =
            tokio::time::timeout_at(deadline, permits.clone().acquire_owned()).await
        else {
            report.error(format!(
                "deadline passed after starting {} of {count} cycles",
                i - first
            ));
            break;
        };
        while let Some(joined) = tasks.try_join_next() {
            record(joined, report);
        }
        let target = target.clone();
        let pad = pad.clone();
        let ending = Ending::of(i, options);
        let source = client::source_for(i % (253 * options.per_source.max(1)), options.per_source);
        let timeout = options.cycle_timeout;
        tasks.spawn(async move {
            let began = Instant::now();
            let result = cycle(&target, source, i, ending, &pad, timeout).await;
            drop(permit);
            (ending, began.elapsed(), result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        record(joined, report);
    }
    start.elapsed().as_secs_f64()
}

/// Runs the scenario against the server process `server` (its `/proc` readings are the point of the
/// scenario; without it, only the cycles are counted).
pub async fn run(options: &ChurnOptions, server: Option<ServerProc>) -> Report {
    let mut report = Report::default();
    let Some(target) = report.target(&options.url) else {
        return report;
    };
    let metrics = match options.metrics_url.as_deref().map(MetricsUrl::parse) {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => {
            report.error(e);
            return report;
        }
    };
    let probe = server.map(|server| Probe { server, metrics });
    let deadline = Instant::now() + options.timeout;
    let mut columns: Vec<(String, Reading)> = Vec::new();
    let mut settles: Vec<Value> = Vec::new();
    let mut tallies = [Tally::default(); 3];
    let mut latencies = Latencies::with_capacity(options.cycles * options.rounds.max(1));
    let mut next = 0usize;

    if let Some(probe) = &probe {
        let Some(cold) = probe.read(&mut report).await else {
            return report;
        };
        columns.push(("cold".into(), cold));
    }
    if options.warmup > 0 {
        let mut warm_tallies = [Tally::default(); 3];
        let mut warm_latencies = Latencies::default();
        run_cycles(
            &target,
            options,
            next,
            options.warmup,
            &mut warm_tallies,
            &mut warm_latencies,
            &mut report,
            deadline,
        )
        .await;
        next += options.warmup;
        report.lines.push(format!(
            "churn: warm-up: {} cycles, {} failed",
            options.warmup,
            warm_tallies.iter().map(|t| t.failed).sum::<u64>()
        ));
    }
    if let Some(probe) = &probe {
        let Some((start, took, quiet)) = probe
            .settle(&mut report, options.settle_quiet, options.settle_deadline)
            .await
        else {
            return report;
        };
        settles.push(json!({"column": "start", "settle_s": round3(took), "quiet": quiet}));
        columns.push(("start".into(), start));
    }

    // Peak readings while the cycles run.
    let peak = Arc::new(Mutex::new(Peak::default()));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sampler = probe.as_ref().map(|probe| {
        let probe = Probe {
            server: probe.server,
            metrics: probe.metrics.clone(),
        };
        let peak = peak.clone();
        tokio::spawn(async move {
            let mut scratch = Report::default();
            loop {
                if let Some(reading) = probe.read(&mut scratch).await {
                    peak.lock().await.observe(&reading);
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        })
    });

    let mut elapsed = 0.0;
    let mut cycles_run = 0usize;
    for round in 1..=options.rounds.max(1) {
        if Instant::now() >= deadline {
            report.error(format!("deadline passed before round {round}"));
            break;
        }
        elapsed += run_cycles(
            &target,
            options,
            next,
            options.cycles,
            &mut tallies,
            &mut latencies,
            &mut report,
            deadline,
        )
        .await;
        next += options.cycles;
        cycles_run += options.cycles;
        if let Some(probe) = &probe {
            let Some((after, took, quiet)) = probe
                .settle(&mut report, options.settle_quiet, options.settle_deadline)
                .await
            else {
                break;
            };
            let name = if options.rounds > 1 {
                format!("after {round}")
            } else {
                "after".into()
            };
            settles.push(json!({"column": name, "settle_s": round3(took), "quiet": quiet}));
            report.lines.push(format!(
                "churn: round {round}: settled in {took:.1} s ({})",
                if quiet {
                    format!("unchanged for {:?}", options.settle_quiet)
                } else {
                    format!(
                        "still changing at the {:?} deadline",
                        options.settle_deadline
                    )
                }
            ));
            columns.push((name, after));
        }
    }
    let _ = stop.send(true);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }

    let ok: u64 = tallies.iter().map(|t| t.ok).sum();
    let failed: u64 = tallies.iter().map(|t| t.failed).sum();
    report.lines.push(format!(
        "churn: {cycles_run} cycles ({} in flight) in {elapsed:.2} s = {:.0} cycles/s; {ok} ok, {failed} failed; cycle {}",
        options.concurrency,
        cycles_run as f64 / elapsed.max(1e-9),
        latencies.line()
    ));
    let mut by_ending = serde_json::Map::new();
    for ending in Ending::ALL {
        let tally = tallies[ending as usize];
        report.lines.push(format!(
            "churn:   {:<10} {:>7} ok {:>5} failed",
            ending.name(),
            tally.ok,
            tally.failed
        ));
        by_ending.insert(
            ending.name().into(),
            json!({"ok": tally.ok, "failed": tally.failed}),
        );
    }

    let mut summary = json!({
        "mode": "churn",
        "cycles": cycles_run,
        "rounds": options.rounds,
        "warmup": options.warmup,
        "concurrency": options.concurrency,
        "elapsed_s": round3(elapsed),
        "cycles_per_s": round1(cycles_run as f64 / elapsed.max(1e-9)),
        "by_ending": by_ending,
        "cycle_latency": latencies.summary(),
        "errors": report.error_count,
    });
    if probe.is_some() {
        let peak = peak.lock().await;
        table(&mut report, &mut summary, &columns, &peak, cycles_run);
        summary["settle"] = json!(settles);
    }
    report.summary = summary;
    report
}

/// The readings as a table (rows: fds, threads, RSS, each gauge; columns: the readings, the peak, and
/// the last reading minus `start`), in the lines and in `summary["readings"]`.
fn table(
    report: &mut Report,
    summary: &mut Value,
    columns: &[(String, Reading)],
    peak: &Peak,
    cycles: usize,
) {
    type Row = (String, Box<dyn Fn(&Reading) -> Option<f64>>, Option<f64>);
    let mut rows: Vec<Row> = vec![
        (
            "open fds".into(),
            Box::new(|r: &Reading| Some(r.resources.fds as f64)),
            Some(peak.resources.fds as f64),
        ),
        (
            "threads".into(),
            Box::new(|r: &Reading| Some(r.resources.threads as f64)),
            Some(peak.resources.threads as f64),
        ),
        (
            "RSS (KiB)".into(),
            Box::new(|r: &Reading| Some((r.resources.rss_bytes / 1024) as f64)),
            Some((peak.resources.rss_bytes / 1024) as f64),
        ),
    ];
    let mut names: Vec<&String> = columns.iter().flat_map(|(_, r)| r.gauges.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let key = name.clone();
        rows.push((
            name.clone(),
            Box::new(move |r: &Reading| r.gauges.get(&key).copied()),
            peak.gauges.get(name).copied(),
        ));
    }
    let start = columns.iter().find(|(n, _)| n == "start");
    let last = columns.last();
    let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    let mut head = format!("churn: {:<44}", "");
    for (name, _) in columns {
        head.push_str(&format!(" {name:>10}"));
    }
    head.push_str(&format!(" {:>10} {:>10}", "peak", "delta"));
    report.lines.push(head);
    let mut json_rows = serde_json::Map::new();
    for (label, get, peak) in &rows {
        let mut line = format!("churn: {label:<44}");
        let mut values = serde_json::Map::new();
        for (name, reading) in columns {
            let v = get(reading);
            line.push_str(&format!(" {:>10}", fmt(v)));
            values.insert(name.clone(), json!(v));
        }
        let delta = match (start, last) {
            (Some((_, s)), Some((_, l))) => get(l).zip(get(s)).map(|(l, s)| l - s),
            _ => None,
        };
        line.push_str(&format!(
            " {:>10} {:>10}",
            fmt(*peak),
            delta.map_or("-".to_owned(), |d| format!("{d:+.0}"))
        ));
        report.lines.push(line);
        values.insert("peak".into(), json!(peak));
        values.insert("delta".into(), json!(delta));
        json_rows.insert(label.clone(), Value::Object(values));
    }
    if let (Some((_, s)), Some((_, l))) = (start, last) {
        let rss = l.resources.rss_bytes as f64 - s.resources.rss_bytes as f64;
        report.lines.push(format!(
            "churn: RSS after - start = {:+.0} KiB over {cycles} cycles = {:+.1} B per cycle",
            rss / 1024.0,
            rss / cycles.max(1) as f64
        ));
    }
    summary["readings"] = Value::Object(json_rows);
}
