//! The `broadcast` scenario: `N` members and a sender on a chat server.
//!
//! Two chat protocols ([`ChatProtocol`]): the seed's Group chat (every connection joins one group, each text
//! `T` a connection sends reaches every member, the sender included, as `"[user] T"`), and the Channels 4
//! tutorial's chat (a client sends `{"message": T}`, every member of the room, the sender included, gets
//! `{"message": T}`; `examples/tutorial_chat.rs`, Daphne serving the tutorial's consumer). The sender's
//! `T`s are `"SEQ SEND_NS xxx…"` (sequence number, send time in ns since the run's epoch, padding). Before
//! the timed part the sender sends `probe` texts until every receiver has seen one, so connections whose
//! connect consumer joins the group after accepting are members when counting starts.
//!
//! Members may be spread over several servers sharing a layer (a fleet on one Redis): receiver `r` (the
//! sender is receiver 0) connects to URL `r % urls`, and the report breaks deliveries, losses and latency
//! down by URL.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::json;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::client;
use crate::proc::ServerProc;
use crate::report::Report;
use crate::stats::{Latencies, round1, round3};

/// What to run.
#[derive(Debug, Clone)]
pub struct BroadcastOptions {
    /// `ws://127.0.0.x:PORT/path` of a chat server: the sender's.
    pub url: String,
    /// More servers of the same fleet (sharing the layer): members are spread round-robin over `url` and
    /// these.
    pub extra_urls: Vec<String>,
    /// What the servers speak.
    pub protocol: ChatProtocol,
    /// Group members besides the sender (the sender is a member too and receives its own messages).
    pub members: usize,
    /// Messages the sender sends.
    pub messages: usize,
    /// Connections that send (message `k` goes out on sender `k % senders`; each is also a member). More
    /// than one models a chat room where several users talk at once: their group sends run concurrently
    /// on the server, where one sender's run one after the other.
    pub senders: usize,
    /// Bytes of each sent text (at least its sequence number and timestamp).
    pub payload: usize,
    /// When the sender sends each message.
    pub pacing: Pacing,
    /// How long deliveries may pause before the run ends (bounded mode: a stall is an error).
    pub quiet: Duration,
    /// Handshakes in flight while connecting.
    pub parallel_connects: usize,
    /// The whole run's deadline, connecting included.
    pub timeout: Duration,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        BroadcastOptions {
            url: "ws://127.0.0.1:8000/".into(),
            extra_urls: Vec::new(),
            protocol: ChatProtocol::Group,
            members: 1_000,
            messages: 1_000,
            senders: 1,
            payload: 64,
            pacing: Pacing::InFlight(32),
            quiet: Duration::from_secs(3),
            parallel_connects: 64,
            timeout: Duration::from_secs(120),
        }
    }
}

/// The chat protocol the servers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ChatProtocol {
    /// The seed's Group chat: a text `T` reaches every member as `"[user] T"`.
    #[default]
    Group,
    /// The Channels 4 tutorial's chat: `{"message": T}` reaches every member of the room as
    /// `{"message": T}`.
    Tutorial,
}

impl ChatProtocol {
    /// The frame that sends `text`.
    fn frame(self, text: &str) -> String {
        match self {
            ChatProtocol::Group => text.to_owned(),
            ChatProtocol::Tutorial => json!({ "message": text }).to_string(),
        }
    }

    /// The text a received frame carries; `None` for a frame this protocol doesn't deliver.
    fn text(self, frame: &str) -> Option<Cow<'_, str>> {
        match self {
            ChatProtocol::Group => frame.strip_prefix("[user] ").map(Cow::Borrowed),
            ChatProtocol::Tutorial => {
                // Fast path for what the generator sends (no escapes): `{"message": "T"}` as serde_json
                // (`{"message":"T"}`) or Python's json.dumps writes it.
                let fast = frame
                    .strip_prefix("{\"message\":")
                    .map(str::trim_start)
                    .and_then(|rest| rest.strip_prefix('"'))
                    .and_then(|rest| rest.strip_suffix("\"}"))
                    .filter(|inner| !inner.contains(['"', '\\']));
                if let Some(inner) = fast {
                    return Some(Cow::Borrowed(inner));
                }
                let value: serde_json::Value = serde_json::from_str(frame).ok()?;
                match value.get("message")? {
                    serde_json::Value::String(text) => Some(Cow::Owned(text.clone())),
                    _ => None,
                }
            }
        }
    }
}

/// When the sender sends each message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Closed loop: message `k` is sent once message `k - n` reached every receiver (CPU per delivery).
    InFlight(usize),
    /// Open loop at this many messages per second, whatever the receivers do: the way a chat's users
    /// send. What a server loses here, it loses in normal use.
    Rate(f64),
    /// Everything at once, without waiting (the overload-policy measurement).
    Burst,
}

impl Pacing {
    fn describe(self) -> String {
        match self {
            Pacing::InFlight(n) => format!("in flight ≤ {n}"),
            Pacing::Rate(rate) => format!("paced at {rate} msgs/s"),
            Pacing::Burst => "unbounded burst".to_owned(),
        }
    }

    fn mode(self) -> &'static str {
        match self {
            Pacing::InFlight(_) => "broadcast",
            Pacing::Rate(_) => "broadcast-paced",
            Pacing::Burst => "broadcast-unbounded",
        }
    }
}

struct Shared {
    epoch: Instant,
    receivers: u32,
    counts: Vec<AtomicU32>,
    progress: Notify,
    delivered: AtomicU64,
    last_delivery_ns: AtomicU64,
    probed: AtomicUsize,
    /// When the last probe frame arrived (ns since `epoch`).
    last_probe_ns: AtomicU64,
}

#[derive(Default)]
struct Received {
    /// Which URL this receiver is connected to.
    url: usize,
    distinct: u64,
    duplicates: u64,
    out_of_order: u64,
    /// Missing ranges in what arrived (a member that got 0..100 and 400..1000 has 1).
    gaps: u64,
    latencies: Latencies,
    error: Option<String>,
}

async fn receive<S>(
    mut stream: S,
    (url, protocol, senders): (usize, ChatProtocol, usize),
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    deadline: Instant,
) -> Received
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let messages = shared.counts.len();
    let mut seen = vec![0u64; messages.div_ceil(64)];
    // Order holds per sender (a channel layer keeps each sender's messages in order, not several senders').
    let mut max_seen: Vec<Option<usize>> = vec![None; senders.max(1)];
    let mut probed = false;
    let mut out = Received {
        url,
        latencies: Latencies::with_capacity(messages),
        ..Received::default()
    };
    while (out.distinct as usize) < messages || !probed {
        let frame = tokio::select! {
            biased;
            frame = stream.next() => frame,
            _ = stop.changed() => break,
            () = tokio::time::sleep_until(deadline) => {
                out.error = Some(format!("deadline passed with {} of {messages} messages", out.distinct));
                break;
            }
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                out.error = Some(format!("server closed the connection: {frame:?}"));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                out.error = Some(format!("read: {e}"));
                break;
            }
            None => {
                out.error = Some("connection closed".into());
                break;
            }
        };
        let now = shared.epoch.elapsed().as_nanos() as u64;
        let Some(body) = protocol.text(&text) else {
            let start: String = text.chars().take(60).collect();
            out.error = Some(format!("unexpected text {start:?}"));
            break;
        };
        if body.starts_with("probe") {
            shared.last_probe_ns.fetch_max(now, Ordering::Relaxed);
            if !probed {
                probed = true;
                shared.probed.fetch_add(1, Ordering::AcqRel);
            }
            continue;
        }
        let mut fields = body.splitn(3, ' ');
        let seq = fields.next().and_then(|s| s.parse::<usize>().ok());
        let sent = fields.next().and_then(|s| s.parse::<u64>().ok());
        let (Some(seq), Some(sent)) = (seq, sent) else {
            out.error = Some(format!("malformed text {:?}", &body[..body.len().min(40)]));
            break;
        };
        if seq >= messages {
            out.error = Some(format!("sequence number {seq} out of range"));
            break;
        }
        let (word, bit) = (seq / 64, 1u64 << (seq % 64));
        if seen[word] & bit != 0 {
            out.duplicates += 1;
            continue;
        }
        seen[word] |= bit;
        out.distinct += 1;
        let last = &mut max_seen[seq % senders.max(1)];
        if last.is_some_and(|m| seq < m) {
            out.out_of_order += 1;
        }
        *last = Some(last.map_or(seq, |m| m.max(seq)));
        out.latencies.record(now.saturating_sub(sent));
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        shared.last_delivery_ns.fetch_max(now, Ordering::Relaxed);
        if shared.counts[seq].fetch_add(1, Ordering::AcqRel) + 1 == shared.receivers {
            shared.progress.notify_one();
        }
    }
    let mut previous = true;
    for seq in 0..messages {
        let here = seen[seq / 64] & (1 << (seq % 64)) != 0;
        if previous && !here {
            out.gaps += 1;
        }
        previous = here;
    }
    out
}

/// Waits until message `seq` reached every receiver; false if deliveries paused for `quiet` (a stall) or the
/// deadline passed.
async fn wait_for_delivery(
    shared: &Shared,
    seq: usize,
    quiet: Duration,
    deadline: Instant,
) -> bool {
    let counter = &shared.counts[seq];
    while counter.load(Ordering::Acquire) < shared.receivers {
        let notified = shared.progress.notified();
        if counter.load(Ordering::Acquire) >= shared.receivers {
            break;
        }
        let wake = Instant::now() + quiet;
        if tokio::time::timeout_at(wake.min(deadline), notified)
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Runs the scenario. With `server`, reports its CPU time per delivery (from the first timed send to the
/// last delivery).
pub async fn run(options: &BroadcastOptions, server: Option<ServerProc>) -> Report {
    run_fleet(options, server.into_iter().collect()).await
}

/// [`run`] with every server of a fleet watched: their CPU time is summed (and given per server).
pub async fn run_fleet(options: &BroadcastOptions, servers: Vec<ServerProc>) -> Report {
    let mut report = Report::default();
    let Some(target) = report.target(&options.url) else {
        return report;
    };
    let mut targets = vec![target];
    for url in &options.extra_urls {
        let Some(target) = report.target(url) else {
            return report;
        };
        targets.push(target);
    }
    let deadline = Instant::now() + options.timeout;
    let receivers = options.members + 1;
    // Receiver r (the sender is 0) on URL r % urls.
    let mut by_url = Vec::with_capacity(targets.len());
    for (k, target) in targets.iter().enumerate() {
        let count = (receivers + targets.len() - 1 - k) / targets.len();
        let Some(conns) = report.ok(client::connect_many(
            target,
            count,
            options.parallel_connects,
            None,
            deadline,
        )
        .await
        .map_err(|e| format!("{}: {e}", target.url))) else {
            return report;
        };
        by_url.push(conns.into_iter());
    }
    let mut conns = Vec::with_capacity(receivers);
    for r in 0..receivers {
        let k = r % targets.len();
        if let Some(ws) = by_url[k].next() {
            conns.push((k, ws));
        }
    }
    let protocol = options.protocol;
    let senders = options.senders.clamp(1, conns.len().max(1));
    let mut sinks = Vec::with_capacity(senders);
    let mut sender_streams = Vec::with_capacity(senders);
    for _ in 0..senders.min(conns.len()) {
        let (k, sender) = conns.remove(0);
        let (sink, stream) = sender.split();
        sinks.push(sink);
        sender_streams.push((k, stream));
    }
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        receivers: receivers as u32,
        counts: (0..options.messages).map(|_| AtomicU32::new(0)).collect(),
        progress: Notify::new(),
        delivered: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
        probed: AtomicUsize::new(0),
        last_probe_ns: AtomicU64::new(0),
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (k, stream) in sender_streams {
        tasks.spawn(receive(
            stream,
            (k, protocol, senders),
            shared.clone(),
            stop_rx.clone(),
            deadline,
        ));
    }
    for (k, ws) in conns {
        tasks.spawn(receive(
            ws,
            (k, protocol, senders),
            shared.clone(),
            stop_rx.clone(),
            deadline,
        ));
    }

    // Probe until every receiver is in the group (bounded: 500 probes, the deadline). The interval grows
    // from 20 ms to 500 ms, so a slow server (Daphne) is not buried under probes while its members join.
    let mut joined = false;
    let mut interval = Duration::from_millis(20);
    for _ in 0..500 {
        if let Err(e) = sinks[0].send(Message::text(protocol.frame("probe"))).await {
            report.error(format!("sender: {e}"));
            break;
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 5 / 4).min(Duration::from_millis(500));
        if shared.probed.load(Ordering::Acquire) == receivers {
            joined = true;
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    if !joined {
        report.error(format!(
            "only {} of {receivers} receivers saw a probe: not every connection joined the group",
            shared.probed.load(Ordering::Acquire)
        ));
    }
    // Let the probes still queued drain (none for 300 ms; at most 60 s), so the timed part starts on an
    // idle server and neither its CPU time nor the first messages' latency counts the probes.
    let drain_until = (Instant::now() + Duration::from_secs(60)).min(deadline);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = shared.epoch.elapsed().as_nanos() as u64;
        let last = shared.last_probe_ns.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 300_000_000 || Instant::now() >= drain_until {
            break;
        }
    }

    let before: Vec<_> = servers.iter().map(|s| s.sample()).collect();
    let pad_len = options.payload.saturating_sub(24);
    let pad = "x".repeat(pad_len);
    let first_send = shared.epoch.elapsed().as_nanos() as u64;
    let mut sent = 0usize;
    if joined {
        let send_start = Instant::now();
        for seq in 0..options.messages {
            match options.pacing {
                Pacing::InFlight(inflight) if seq >= inflight.max(1) => {
                    let waited = seq - inflight.max(1);
                    if !wait_for_delivery(&shared, waited, options.quiet, deadline).await {
                        report.error(format!(
                            "stalled: message {waited} did not reach every receiver within {:?}",
                            options.quiet
                        ));
                        break;
                    }
                }
                Pacing::Rate(rate) => {
                    let due = send_start + Duration::from_secs_f64(seq as f64 / rate.max(1e-3));
                    tokio::time::sleep_until(due.min(deadline)).await;
                }
                Pacing::InFlight(_) | Pacing::Burst => {}
            }
            let now = shared.epoch.elapsed().as_nanos() as u64;
            let text = protocol.frame(&format!("{seq} {now} {pad}"));
            let sink = &mut sinks[seq % senders];
            let result = if options.pacing == Pacing::Burst {
                let fed = sink.feed(Message::text(text)).await;
                if seq % 16 == 15 {
                    fed.and(sink.flush().await)
                } else {
                    fed
                }
            } else {
                sink.send(Message::text(text)).await
            };
            if let Err(e) = result {
                report.error(format!("sender: {e}"));
                break;
            }
            sent += 1;
        }
        for sink in &mut sinks {
            if let Err(e) = sink.flush().await {
                report.error(format!("sender flush: {e}"));
            }
        }
    }
    let send_done = shared.epoch.elapsed().as_nanos() as u64;

    // Wait for the deliveries to finish, or to pause for `quiet`, or the deadline.
    let expected = (sent * receivers) as u64;
    let mut last = u64::MAX;
    let mut quiet_since = Instant::now();
    while shared.delivered.load(Ordering::Acquire) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = shared.delivered.load(Ordering::Acquire);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= options.quiet {
            break;
        }
    }
    let after: Vec<_> = servers.iter().map(|s| s.sample()).collect();
    let _ = stop.send(true);

    let mut latencies = Latencies::with_capacity(expected as usize);
    let mut per_receiver = Vec::with_capacity(receivers);
    let mut per_url: Vec<UrlTally> = (0..targets.len()).map(|_| UrlTally::default()).collect();
    let (mut duplicated, mut out_of_order, mut gaps) = (0u64, 0u64, Vec::new());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(received) => {
                if let Some(e) = received.error {
                    report.error(e);
                }
                let tally = &mut per_url[received.url];
                tally.receivers += 1;
                tally.deliveries += received.distinct;
                tally.lost += (sent as u64).saturating_sub(received.distinct);
                tally.duplicated += received.duplicates;
                if targets.len() > 1 {
                    tally.latencies.merge(received.latencies.clone());
                }
                duplicated += received.duplicates;
                out_of_order += received.out_of_order;
                gaps.push(received.gaps);
                per_receiver.push(received.distinct);
                latencies.merge(received.latencies);
            }
            Err(e) => report.error(format!("receiver task: {e}")),
        }
    }
    for sink in &mut sinks {
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    }

    let delivered: u64 = per_receiver.iter().sum();
    let lost: u64 = per_receiver
        .iter()
        .map(|&d| (sent as u64).saturating_sub(d))
        .sum();
    report.lost = lost;
    report.duplicated = duplicated;
    let last_delivery = shared.last_delivery_ns.load(Ordering::Acquire);
    let elapsed = last_delivery.saturating_sub(first_send) as f64 / 1e9;
    let rate = delivered as f64 / elapsed.max(1e-9);
    per_receiver.sort_unstable();
    gaps.sort_unstable();
    let pick = |v: &[u64], p: f64| -> u64 {
        if v.is_empty() {
            0
        } else {
            v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
        }
    };
    let complete = per_receiver.iter().filter(|&&d| d == sent as u64).count();
    let mode = options.pacing.describe();
    report.lines.push(format!(
        "broadcast: {} members + sender, {sent} msgs ({} B, {mode}): {delivered}/{expected} deliveries in {elapsed:.3} s = {rate:.0} deliveries/s",
        options.members, options.payload
    ));
    report
        .lines
        .push(format!("broadcast: send to receive {}", latencies.line()));
    report.lines.push(format!(
        "broadcast: lost {lost}, duplicated {duplicated}, out of order {out_of_order}; {complete}/{receivers} receivers got every message; per receiver got min {} / median {} / max {} (missing ranges: median {}, max {})",
        pick(&per_receiver, 0.0),
        pick(&per_receiver, 0.5),
        pick(&per_receiver, 1.0),
        pick(&gaps, 0.5),
        pick(&gaps, 1.0),
    ));
    let mut summary = json!({
        "mode": options.pacing.mode(),
        "members": options.members,
        "receivers": receivers,
        "messages": sent,
        "payload": options.payload,
        "inflight": match options.pacing { Pacing::InFlight(n) => json!(n), _ => serde_json::Value::Null },
        "rate": match options.pacing { Pacing::Rate(r) => json!(r), _ => serde_json::Value::Null },
        "deliveries": delivered,
        "expected_deliveries": expected,
        "elapsed_s": round3(elapsed),
        "send_s": round3(send_done.saturating_sub(first_send) as f64 / 1e9),
        "deliveries_per_s": round1(rate),
        "latency": latencies.summary(),
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "receivers_complete": complete,
        "per_receiver_received": {
            "min": pick(&per_receiver, 0.0),
            "p50": pick(&per_receiver, 0.5),
            "max": pick(&per_receiver, 1.0),
        },
        "per_receiver_missing_ranges": { "p50": pick(&gaps, 0.5), "max": pick(&gaps, 1.0) },
        "errors": report.error_count,
    });
    if targets.len() > 1 {
        let mut rows = Vec::new();
        for (target, tally) in targets.iter().zip(per_url.iter_mut()) {
            report.lines.push(format!(
                "broadcast:   {}: {} receivers, {} deliveries, lost {}, duplicated {}; send to receive {}",
                target.url,
                tally.receivers,
                tally.deliveries,
                tally.lost,
                tally.duplicated,
                tally.latencies.line()
            ));
            rows.push(json!({
                "url": target.url,
                "receivers": tally.receivers,
                "deliveries": tally.deliveries,
                "lost": tally.lost,
                "duplicated": tally.duplicated,
                "latency": tally.latencies.summary(),
            }));
        }
        summary["by_url"] = json!(rows);
    }
    summary["protocol"] = json!(match protocol {
        ChatProtocol::Group => "group",
        ChatProtocol::Tutorial => "tutorial",
    });
    if !servers.is_empty() {
        let total = |samples: &[crate::proc::Sample]| crate::proc::Sample {
            cpu_seconds: samples.iter().map(|s| s.cpu_seconds).sum(),
            sched_seconds: samples.iter().map(|s| s.sched_seconds).sum(),
            rss_bytes: samples.iter().map(|s| s.rss_bytes).sum(),
        };
        if servers.len() > 1 {
            let mut rows = Vec::new();
            for ((server, b), a) in servers.iter().zip(&before).zip(&after) {
                report.lines.push(format!(
                    "broadcast:   server {}: CPU {:.2} s",
                    server.pid(),
                    a.cpu_since(b)
                ));
                rows.push(json!({"pid": server.pid(), "cpu_s": round3(a.cpu_since(b))}));
            }
            summary["servers"] = json!(rows);
        }
        report.server_cpu(
            &mut summary,
            "broadcast",
            "delivery",
            delivered,
            (Some(total(&before)), Some(total(&after))),
        );
        let cpu = total(&after).cpu_since(&total(&before));
        summary["server_cpu_us_per_message"] = json!(round3(cpu / (sent.max(1) as f64) * 1e6));
    }
    report.summary = summary;
    report
}

/// Deliveries to the receivers of one URL.
#[derive(Default)]
struct UrlTally {
    receivers: u64,
    deliveries: u64,
    lost: u64,
    duplicated: u64,
    latencies: Latencies,
}
