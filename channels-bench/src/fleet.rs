//! The fleet scenarios: one broadcast to more connections than one process can hold.
//!
//! A fleet is several chat servers sharing a layer (one Redis), several `hold` processes and one `send`
//! process, all coordinating through files in one directory (`--dir`), so a script can start them all at
//! once and each process stays under its own open-file limit:
//!
//! 1. each holder (`hold --name NAME`) opens `connections` WebSockets, connection `i` to URL
//!    `(i + offset) % urls`, from its own source address, at most `parallel_connects` handshakes at a
//!    time, and writes `NAME.connected` (a JSON line: how many opened, how long it took);
//! 2. the sender (`send`) waits for `holders` such files, then sends `probe K` texts (K = 1, 2, …; the
//!    next once its own copy of the last came back and `probe_interval` passed) until every holder wrote
//!    `NAME.ready` (each of its connections saw a probe: the chat consumer adds a member to the group after
//!    accepting it, so an open connection is not yet a member);
//! 3. the sender writes `probes` (the last K); each holder waits until every connection saw probe K and
//!    writes `NAME.drained`, so no probe is still on its way when the measured text is sent (a probe is a
//!    broadcast to the whole fleet too: one still queued would delay the measured one);
//! 4. the sender sends one text, `fleet SEND_NS` (its send time, ns since the Unix epoch), and writes
//!    `send.result`;
//! 5. each holder waits for that text on every connection, notes its arrival time (`SystemTime`, ns since
//!    the epoch, comparable across processes), and writes `NAME.result` (received, missing, duplicated;
//!    arrival min / p50 / p99 / max; send-to-arrival p50 / p99 / max) and `NAME.arrivals` (one
//!    send-to-arrival time in ns per line, for fleet-wide percentiles);
//! 6. every process then holds its connections, without reading, until `release` appears in the directory
//!    (or its deadline), so the servers can be measured and stopped before the clients close.
//!
//! Every wait has the run's deadline (`timeout`). Files are written whole (to a temporary name, then
//! renamed), so a reader never sees half a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Target, Ws};
use crate::report::Report;
use crate::stats::round3;

/// How often file waits look at the directory.
const POLL: Duration = Duration::from_millis(50);

/// What one `hold` process does.
#[derive(Debug, Clone)]
pub struct HoldOptions {
    /// The fleet's chat servers (`ws://127.0.0.x:PORT/`).
    pub urls: Vec<String>,
    /// WebSockets to open and hold.
    pub connections: usize,
    /// Connection `i` goes to URL `(i + offset) % urls` (give each holder its own, so the fleet's
    /// connections spread evenly over the servers).
    pub offset: usize,
    /// Source address of every connection, each on its own port from [`SourcePorts`] (1,024 and up:
    /// ~64,000 connections per address); without it, the kernel picks address and port at connect.
    pub source: Option<std::net::IpAddr>,
    /// Handshakes in flight at once (keep the sum over holders below the servers' accept backlog, 1,024).
    pub parallel_connects: usize,
    /// The directory the fleet's processes coordinate through.
    pub dir: PathBuf,
    /// This holder's name: its files are `NAME.connected`, `NAME.ready`, `NAME.result`, `NAME.arrivals`.
    pub name: String,
    /// The whole run's deadline, connecting and holding included.
    pub timeout: Duration,
}

/// What the `send` process does.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The chat server the sender connects to.
    pub url: String,
    /// The directory the fleet's processes coordinate through.
    pub dir: PathBuf,
    /// How many holders to wait for.
    pub holders: usize,
    /// Time between two probes while some holder isn't ready.
    pub probe_interval: Duration,
    /// The whole run's deadline.
    pub timeout: Duration,
}

/// A text the fleet's chat servers deliver, as a member receives it (`"[user] T"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetText {
    /// `[user] probe K`: the connection is a member of the group; K counts the sender's probes from 1.
    Probe(u32),
    /// `[user] fleet SEND_NS`: the broadcast, sent at `SEND_NS` (ns since the Unix epoch).
    Broadcast(u64),
}

impl FleetText {
    /// Parses a received frame; `None` for anything the fleet doesn't send.
    pub fn parse(frame: &str) -> Option<FleetText> {
        let body = frame.strip_prefix("[user] ")?;
        if let Some(k) = body.strip_prefix("probe ") {
            return k.trim().parse().ok().map(FleetText::Probe);
        }
        let sent = body.strip_prefix("fleet ")?;
        sent.trim().parse().ok().map(FleetText::Broadcast)
    }
}

/// The nearest-rank `p`-th quantile (0.0..=1.0) of `sorted` (ascending); `None` when empty.
pub fn nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// min, p50, p99 and max of `values` (sorted in place) as JSON, under names ending in `suffix`.
fn quantiles(values: &mut [u64], suffix: &str) -> Value {
    values.sort_unstable();
    let q = |p| nearest_rank(values, p).map_or(Value::Null, |v| json!(v));
    json!({
        format!("min_{suffix}"): q(0.0),
        format!("p50_{suffix}"): q(0.5),
        format!("p99_{suffix}"): q(0.99),
        format!("max_{suffix}"): q(1.0),
    })
}

/// Source ports a holder binds explicitly, one after the other: `bind(ADDR, 0)` searches the port range
/// for a free port, and with thousands of ports of one address taken the search walks them all (the
/// holder spends its time in the kernel's `inet_csk_get_port` and connects drop to ~150/s past ~10,000).
/// Naming the port makes `bind` a hash lookup; a port another socket holds on this address is skipped.
#[derive(Debug)]
pub struct SourcePorts {
    next: std::sync::atomic::AtomicU32,
}

impl SourcePorts {
    /// The first port tried (below it: well-known ports).
    pub const FIRST: u32 = 1024;

    /// Ports from [`FIRST`](Self::FIRST) up.
    pub fn new() -> Self {
        SourcePorts {
            next: std::sync::atomic::AtomicU32::new(Self::FIRST),
        }
    }

    /// The next port to try; `None` once past 65,535.
    pub fn take(&self) -> Option<u16> {
        u16::try_from(self.next.fetch_add(1, Ordering::Relaxed)).ok()
    }
}

impl Default for SourcePorts {
    fn default() -> Self {
        Self::new()
    }
}

/// Opens one WebSocket to `target` from `source`, on the next free port of `ports`, within `timeout`.
async fn connect_from(
    target: &Target,
    source: std::net::IpAddr,
    ports: &SourcePorts,
    timeout: Duration,
) -> Result<Ws, String> {
    let attempt = async {
        let stream = loop {
            let port = ports
                .take()
                .ok_or_else(|| format!("no source port left on {source}"))?;
            let socket = match target.addr {
                std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
            }
            .map_err(|e| format!("socket: {e}"))?;
            // A port in TIME_WAIT from an earlier run may be taken again.
            let _ = socket.set_reuseaddr(true);
            let local = std::net::SocketAddr::new(source, port);
            match socket.bind(local) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(format!("bind {local}: {e}")),
            }
            match socket.connect(target.addr).await {
                Ok(stream) => break stream,
                // The same four-tuple still in TIME_WAIT: the next port.
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => continue,
                Err(e) => return Err(format!("connect {} from {local}: {e}", target.addr)),
            }
        };
        client::upgrade(target, stream).await
    };
    client::within(timeout, attempt).await
}

/// Now, in ns since the Unix epoch (the clock every process of the fleet shares).
pub fn epoch_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Writes `contents` to `dir/name` whole: a temporary file, then a rename.
fn publish(dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(|e| format!("rename to {}: {e}", path.display()))
}

/// How many files in `dir` end in `suffix`.
fn count_files(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
            .count()
    })
}

/// Waits until `dir/release` exists or `deadline` passes; true if released.
async fn wait_release(dir: &Path, deadline: Instant) -> bool {
    while !dir.join("release").exists() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    true
}

struct Shared {
    connected: AtomicUsize,
    failed: AtomicUsize,
    probed: AtomicUsize,
    received: AtomicUsize,
    /// Connections whose reading ended in an error (closed by the server, unexpected text).
    dead: AtomicUsize,
    progress: Notify,
    /// The last probe each connection saw (by connection index).
    last_probe: Vec<std::sync::atomic::AtomicU32>,
}

impl Shared {
    fn bump(&self, counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::AcqRel);
        self.progress.notify_one();
    }
}

/// What one held connection saw.
#[derive(Default)]
struct Seen {
    url: usize,
    /// (send ns, arrival ns) of the broadcast.
    broadcast: Option<(u64, u64)>,
    duplicates: u64,
    error: Option<String>,
}

/// Reads one connection until `stop`: probes, the broadcast. Returns the socket (still open) and what it
/// saw.
async fn read_one(
    mut ws: Ws,
    (index, url): (usize, usize),
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> (Option<Ws>, Seen) {
    let mut seen = Seen {
        url,
        ..Seen::default()
    };
    let mut probed = false;
    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.changed() => break,
            frame = ws.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                seen.error = Some(format!("server closed the connection: {frame:?}"));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                seen.error = Some(format!("read: {e}"));
                break;
            }
            None => {
                seen.error = Some("connection closed".into());
                break;
            }
        };
        let now = epoch_ns();
        match FleetText::parse(&text) {
            Some(FleetText::Probe(k)) => {
                shared.last_probe[index].fetch_max(k, Ordering::AcqRel);
                if !probed {
                    probed = true;
                    shared.bump(&shared.probed);
                }
            }
            Some(FleetText::Broadcast(sent)) => {
                if seen.broadcast.is_some() {
                    seen.duplicates += 1;
                } else {
                    seen.broadcast = Some((sent, now));
                    shared.bump(&shared.received);
                }
            }
            None => {
                let start: String = text.chars().take(60).collect();
                seen.error = Some(format!("unexpected text {start:?}"));
                break;
            }
        }
    }
    let open = seen.error.is_none();
    if !open {
        shared.bump(&shared.dead);
    }
    (open.then_some(ws), seen)
}

/// Waits until `counter` reaches `target` or `deadline` passes; true if it did.
async fn wait_count(
    shared: &Shared,
    counter: impl Fn(&Shared) -> usize,
    target: usize,
    deadline: Instant,
) -> bool {
    loop {
        let notified = shared.progress.notified();
        if counter(shared) >= target {
            return true;
        }
        // A wake-up may be missed between two notifications (notify_one stores one permit): re-check
        // at least every POLL.
        let wake = (Instant::now() + POLL).min(deadline);
        let _ = tokio::time::timeout_at(wake, notified).await;
        if Instant::now() >= deadline {
            return counter(shared) >= target;
        }
    }
}

/// Runs one holder (see the module documentation). The report's summary is also written to
/// `NAME.result`.
pub async fn hold(options: &HoldOptions) -> Report {
    let mut report = Report::default();
    let mut targets = Vec::new();
    for url in &options.urls {
        let Some(target) = report.target(url) else {
            return report;
        };
        targets.push(target);
    }
    if targets.is_empty() {
        report.error("give at least one --url".into());
        return report;
    }
    let deadline = Instant::now() + options.timeout;
    let shared = Arc::new(Shared {
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        probed: AtomicUsize::new(0),
        received: AtomicUsize::new(0),
        dead: AtomicUsize::new(0),
        progress: Notify::new(),
        last_probe: (0..options.connections)
            .map(|_| std::sync::atomic::AtomicU32::new(0))
            .collect(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let n = options.connections;
    let permits = Arc::new(tokio::sync::Semaphore::new(
        options.parallel_connects.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let start_ns = epoch_ns();
    let mut connect_errors = Vec::new();
    let mut launched = 0;
    let ports = Arc::new(SourcePorts::new());
    for i in 0..n {
        let Ok(Ok(permit)) =
            tokio::time::timeout_at(deadline, permits.clone().acquire_owned()).await
        else {
            connect_errors.push(format!(
                "deadline passed after starting {i} of {n} connects"
            ));
            break;
        };
        launched += 1;
        let url = (i + options.offset) % targets.len();
        let target: Target = targets[url].clone();
        let source = options.source;
        let shared = shared.clone();
        let stop = stop_rx.clone();
        let ports = ports.clone();
        let left = deadline.saturating_duration_since(Instant::now());
        tasks.spawn(async move {
            let connected = match source {
                Some(source) => connect_from(&target, source, &ports, left).await,
                None => client::connect(&target, None, left).await,
            };
            drop(permit);
            match connected {
                Ok(ws) => {
                    shared.bump(&shared.connected);
                    read_one(ws, (i, url), shared, stop).await
                }
                Err(error) => {
                    shared.bump(&shared.failed);
                    let seen = Seen {
                        url,
                        error: Some(format!("connection {i}: {error}")),
                        ..Seen::default()
                    };
                    (None, seen)
                }
            }
        });
    }
    wait_count(
        &shared,
        |s| s.connected.load(Ordering::Acquire) + s.failed.load(Ordering::Acquire),
        launched,
        deadline,
    )
    .await;
    let connect_s = start.elapsed().as_secs_f64();
    let connected = shared.connected.load(Ordering::Acquire);
    let failed = shared.failed.load(Ordering::Acquire);
    let connected_line = json!({
        "name": options.name,
        "connected": connected,
        "failed": failed,
        "start_ns": start_ns,
        "connected_ns": epoch_ns(),
        "connect_s": round3(connect_s),
        "opens_per_s": round3(connected as f64 / connect_s.max(1e-9)),
    });
    report.lines.push(format!(
        "hold {}: {connected} of {n} connections open in {connect_s:.2} s ({failed} failed)",
        options.name
    ));
    report.ok(publish(
        &options.dir,
        &format!("{}.connected", options.name),
        &format!("{connected_line}\n"),
    ));
    // A connection that died can't become a member: give up as soon as every other one is.
    let alive_or_dead = |s: &Shared, counter: &AtomicUsize| {
        counter.load(Ordering::Acquire) + s.dead.load(Ordering::Acquire)
    };
    wait_count(
        &shared,
        |s| alive_or_dead(s, &s.probed),
        connected,
        deadline,
    )
    .await;
    let probed = shared.probed.load(Ordering::Acquire);
    let dead = shared.dead.load(Ordering::Acquire);
    let probed_all = probed >= connected && dead == 0;
    if dead > 0 {
        report.error(format!(
            "{dead} connections closed before the broadcast: giving up"
        ));
        report.ok(publish(
            &options.dir,
            &format!("{}.failed", options.name),
            &format!("{}\n", json!({"name": options.name, "dead": dead})),
        ));
    } else if probed_all {
        report.ok(publish(
            &options.dir,
            &format!("{}.ready", options.name),
            &format!("{}\n", json!({"name": options.name, "probed": probed})),
        ));
    } else {
        report.error(format!(
            "deadline passed with {probed} of {connected} connections members (probed)"
        ));
    }
    let drained = probed_all && drain(options, &shared, connected, deadline, &mut report).await;
    let received_all = drained
        && wait_count(
            &shared,
            |s| alive_or_dead(s, &s.received),
            connected,
            deadline,
        )
        .await
        && shared.received.load(Ordering::Acquire) >= connected;
    let _ = stop_tx.send(true);
    let mut held = Vec::with_capacity(connected);
    let mut arrivals = Vec::with_capacity(connected);
    let mut latencies = Vec::with_capacity(connected);
    let mut by_url = vec![(0u64, 0u64); targets.len()];
    let mut duplicates = 0;
    let mut closed = 0u64;
    while let Some(joined) = tasks.join_next().await {
        let (ws, seen) = match joined {
            Ok(done) => done,
            Err(e) => {
                report.error(format!("connection task: {e}"));
                continue;
            }
        };
        if let Some(ws) = ws {
            held.push(ws);
        }
        duplicates += seen.duplicates;
        by_url[seen.url].0 += 1;
        if let Some((sent, arrived)) = seen.broadcast {
            arrivals.push(arrived);
            latencies.push(arrived.saturating_sub(sent));
            by_url[seen.url].1 += 1;
        }
        if let Some(error) = seen.error {
            if seen.broadcast.is_some() {
                closed += 1;
            }
            report.error(error);
        }
    }
    report.errors.extend(connect_errors.iter().cloned());
    report.error_count += connect_errors.len() as u64;
    let received = arrivals.len();
    let missing = n - received.min(n);
    report.lost = missing as u64;
    report.duplicated = duplicates;
    if !received_all && drained {
        report.error(format!(
            "deadline passed with the broadcast at {received} of {connected} connections"
        ));
    }
    let lines: String = latencies.iter().map(|ns| format!("{ns}\n")).collect();
    report.ok(publish(
        &options.dir,
        &format!("{}.arrivals", options.name),
        &lines,
    ));
    let mut summary = json!({
        "mode": "hold",
        "name": options.name,
        "connections": n,
        "connected": connected,
        "failed": failed,
        "connect_s": round3(connect_s),
        "opens_per_s": round3(connected as f64 / connect_s.max(1e-9)),
        "received": received,
        "missing": missing,
        "duplicated": duplicates,
        "closed_after_receiving": closed,
        "per_url": by_url.iter().map(|(c, r)| json!({"connections": c, "received": r})).collect::<Vec<_>>(),
        "arrival": quantiles(&mut arrivals, "ns"),
        "latency": quantiles(&mut latencies, "ns"),
    });
    summary["errors"] = json!(report.error_count);
    report.lines.push(format!(
        "hold {}: broadcast received on {received} of {n} connections ({missing} missing, {duplicates} duplicated)",
        options.name
    ));
    report.ok(publish(
        &options.dir,
        &format!("{}.result", options.name),
        &format!("{summary}\n"),
    ));
    report.summary = summary;
    if !wait_release(&options.dir, deadline).await {
        report.error("deadline passed before the release file appeared".into());
    }
    drop(held);
    report
}

/// Waits for the sender's `probes` file (the last probe's number K), then until every connection saw probe
/// K, and writes `NAME.drained`; false (an error recorded) if the deadline passed first.
async fn drain(
    options: &HoldOptions,
    shared: &Shared,
    connected: usize,
    deadline: Instant,
    report: &mut Report,
) -> bool {
    let path = options.dir.join("probes");
    let last = loop {
        if let Some(k) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        {
            break k;
        }
        if Instant::now() >= deadline {
            report.error("deadline passed before the sender wrote `probes`".into());
            return false;
        }
        tokio::time::sleep(POLL).await;
    };
    loop {
        let seen = shared
            .last_probe
            .iter()
            .filter(|k| k.load(Ordering::Acquire) >= last)
            .count();
        if seen >= connected {
            break;
        }
        if Instant::now() >= deadline {
            report.error(format!(
                "deadline passed with probe {last} at {seen} of {connected} connections"
            ));
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    report
        .ok(publish(
            &options.dir,
            &format!("{}.drained", options.name),
            &format!("{}\n", json!({"name": options.name, "probe": last})),
        ))
        .is_some()
}

/// The sender's socket, reading what comes back while it waits.
async fn next_fleet_text(ws: &mut Ws, until: Instant) -> Result<Option<FleetText>, String> {
    match tokio::time::timeout_at(until, client::next_text(ws)).await {
        Err(_) => Ok(None),
        Ok(Err(e)) => Err(e),
        Ok(Ok(text)) => FleetText::parse(&text).map(Some).ok_or_else(|| {
            format!(
                "unexpected text {:?}",
                text.chars().take(60).collect::<String>()
            )
        }),
    }
}

/// Reads the sender's own connection for up to [`POLL`], noting the last probe it saw in `own`; an error
/// for a broadcast (none was sent yet), a closed connection or an unexpected text.
async fn read_probes(ws: &mut Ws, own: &mut u32, deadline: Instant) -> Result<(), String> {
    let until = (Instant::now() + POLL).min(deadline);
    match next_fleet_text(ws, until).await {
        Ok(Some(FleetText::Probe(k))) => {
            *own = (*own).max(k);
            Ok(())
        }
        Ok(Some(FleetText::Broadcast(_))) => Err("a broadcast arrived before it was sent".into()),
        Ok(None) => Ok(()),
        Err(e) => Err(format!("sender: {e}")),
    }
}

/// Runs the sender (see the module documentation): the report's summary (send time, probes, when its
/// own copy came back) is also written to `send.result`.
pub async fn send(options: &SendOptions) -> Report {
    let mut report = Report::default();
    let Some(target) = report.target(&options.url) else {
        return report;
    };
    let deadline = Instant::now() + options.timeout;
    let left = deadline.saturating_duration_since(Instant::now());
    let Some(mut ws) = report.ok(client::connect(&target, None, left).await) else {
        return report;
    };
    // The last probe the sender's own connection saw.
    let mut own = 0u32;
    while count_files(&options.dir, ".connected") < options.holders {
        if Instant::now() >= deadline {
            report.error(format!(
                "deadline passed with {} of {} holders connected",
                count_files(&options.dir, ".connected"),
                options.holders
            ));
            return report;
        }
        // Reading answers the server's pings (a connection that doesn't is dropped after ~50 s).
        if let Err(e) = read_probes(&mut ws, &mut own, deadline).await {
            report.error(e);
            return report;
        }
    }
    let probe_start = Instant::now();
    let mut probes = 0u32;
    'probing: loop {
        probes += 1;
        if let Err(e) = ws.send(Message::text(format!("probe {probes}"))).await {
            report.error(format!("send: {e}"));
            return report;
        }
        let sent = Instant::now();
        loop {
            if Instant::now() >= deadline {
                report.error(format!(
                    "deadline passed with {} of {} holders ready after {probes} probes",
                    count_files(&options.dir, ".ready"),
                    options.holders
                ));
                return report;
            }
            if let Err(e) = read_probes(&mut ws, &mut own, deadline).await {
                report.error(e);
                return report;
            }
            if own >= 1 && count_files(&options.dir, ".ready") >= options.holders {
                break 'probing;
            }
            if own >= probes && sent.elapsed() >= options.probe_interval {
                break;
            }
        }
    }
    let ready_s = probe_start.elapsed().as_secs_f64();
    report.ok(publish(&options.dir, "probes", &format!("{probes}\n")));
    while own < probes || count_files(&options.dir, ".drained") < options.holders {
        if Instant::now() >= deadline {
            report.error(format!(
                "deadline passed with probe {probes} drained at {} of {} holders",
                count_files(&options.dir, ".drained"),
                options.holders
            ));
            return report;
        }
        if let Err(e) = read_probes(&mut ws, &mut own, deadline).await {
            report.error(e);
            return report;
        }
    }
    let probe_s = probe_start.elapsed().as_secs_f64();
    let send_ns = epoch_ns();
    if let Err(e) = ws.send(Message::text(format!("fleet {send_ns}"))).await {
        report.error(format!("send: {e}"));
        return report;
    }
    let mut echo_ns = None;
    while echo_ns.is_none() {
        match next_fleet_text(&mut ws, deadline).await {
            Ok(Some(FleetText::Probe(_))) => {}
            Ok(Some(FleetText::Broadcast(sent))) if sent == send_ns => echo_ns = Some(epoch_ns()),
            Ok(Some(FleetText::Broadcast(sent))) => {
                report.error(format!("a broadcast sent at {sent}, not {send_ns}"));
                break;
            }
            Ok(None) => {
                report.error("deadline passed before the sender's own copy came back".into());
                break;
            }
            Err(e) => {
                report.error(format!("sender: {e}"));
                break;
            }
        }
    }
    let summary = json!({
        "mode": "send",
        "send_ns": send_ns,
        "echo_ns": echo_ns,
        "probes": probes,
        "ready_s": round3(ready_s),
        "probe_s": round3(probe_s),
        "errors": report.error_count,
    });
    report.lines.push(format!(
        "send: {probes} probes, every member after {ready_s:.2} s, drained after {probe_s:.2} s, then the broadcast at {send_ns} ns"
    ));
    report.ok(publish(
        &options.dir,
        "send.result",
        &format!("{summary}\n"),
    ));
    report.summary = summary;
    if !wait_release(&options.dir, deadline).await {
        report.error("deadline passed before the release file appeared".into());
    }
    drop(ws);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_fleet_sends() {
        assert_eq!(
            FleetText::parse("[user] probe 3"),
            Some(FleetText::Probe(3))
        );
        assert_eq!(FleetText::parse("[user] probe"), None, "no probe number");
        assert_eq!(
            FleetText::parse("[user] fleet 1764427000123456789"),
            Some(FleetText::Broadcast(1_764_427_000_123_456_789))
        );
        assert_eq!(FleetText::parse("fleet 12"), None, "no [user] prefix");
        assert_eq!(FleetText::parse("[user] probes"), None);
        assert_eq!(FleetText::parse("[user] fleet x"), None);
        assert_eq!(FleetText::parse("[system] probe 1"), None);
    }

    #[test]
    fn nearest_rank_quantiles() {
        let values: Vec<u64> = (1..=200).collect();
        assert_eq!(nearest_rank(&values, 0.0), Some(1));
        assert_eq!(nearest_rank(&values, 0.5), Some(100));
        assert_eq!(nearest_rank(&values, 0.99), Some(198));
        assert_eq!(nearest_rank(&values, 1.0), Some(200));
        assert_eq!(nearest_rank(&[], 0.5), None);
        assert_eq!(nearest_rank(&[7], 0.99), Some(7));
    }

    #[test]
    fn quantiles_sort_and_name() {
        let mut values = vec![30, 10, 20];
        let q = quantiles(&mut values, "ns");
        assert_eq!(q["min_ns"], 10);
        assert_eq!(q["p50_ns"], 20);
        assert_eq!(q["max_ns"], 30);
        assert_eq!(quantiles(&mut [], "ns")["p99_ns"], Value::Null);
    }

    #[test]
    fn source_ports_count_up_and_stop_at_the_end() {
        let ports = SourcePorts::new();
        assert_eq!(ports.take(), Some(1024));
        assert_eq!(ports.take(), Some(1025));
        ports.next.store(65_535, Ordering::Relaxed);
        assert_eq!(ports.take(), Some(65_535));
        assert_eq!(ports.take(), None);
    }

    #[test]
    fn publish_writes_whole_files_and_counts_them() {
        let dir = std::env::temp_dir().join(format!("fleet-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        publish(&dir, "a.ready", "{}\n").unwrap();
        publish(&dir, "b.ready", "{}\n").unwrap();
        publish(&dir, "a.connected", "{}\n").unwrap();
        assert_eq!(count_files(&dir, ".ready"), 2);
        assert_eq!(
            std::fs::read_to_string(dir.join("a.ready")).unwrap(),
            "{}\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
