//! `channels-bench`: the load generator. Run `channels-bench --help`; see BENCHMARKS.md.
//!
//! ```text
//! channels-bench echo      --url ws://127.0.0.1:8000/ --connections 50 --messages 2000 --server-pid PID
//! channels-bench broadcast --url ws://127.0.0.1:8001/ --members 1000 --messages 1000 --inflight 32 --server-pid PID
//! channels-bench broadcast --url ws://127.0.0.1:8001/ --members 1000 --messages 5000 --rate 1000
//! channels-bench broadcast --url ws://127.0.0.1:8001/ --members 1000 --messages 2000 --unbounded --allow-loss
//! channels-bench conns     --url ws://127.0.0.1:8000/ --connections 10000 --server-pid PID
//! channels-bench hold      --url ws://127.0.0.1:8001/ --url ws://127.0.0.1:8002/ -c 16000 --source 127.0.0.2 --dir D --name h1
//! channels-bench send      --url ws://127.0.0.1:8001/ --dir D --holders 6
//! channels-bench churn     --url ws://127.0.0.1:8001/ --cycles 20000 --concurrency 50 --server-pid PID --metrics-url http://127.0.0.1:9001/metrics
//! ```
//!
//! Prints human lines, then one JSON summary line. Exits 1 on errors, lost or duplicated messages
//! (`--allow-loss` accepts lost messages, for the unbounded burst), 2 on bad arguments.

use std::time::Duration;

use channels_bench::broadcast::{BroadcastOptions, ChatProtocol, Pacing};
use channels_bench::churn::ChurnOptions;
use channels_bench::conns::ConnsOptions;
use channels_bench::echo::EchoOptions;
use channels_bench::proc::ServerProc;
use channels_bench::report::Report;
use clap::{Args, Parser, Subcommand};

/// Load generator for `channels` (and any server speaking the echo or chat protocol) over loopback.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Worker threads of the generator's runtime (1 = a single-threaded runtime; pin it with taskset).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
}

#[derive(Debug, Args)]
struct Common {
    /// Server URL; only loopback addresses are accepted. `broadcast` takes several (servers of one fleet
    /// sharing a layer): members are spread round-robin over them, the sender on the first.
    #[arg(long = "url", default_value = "ws://127.0.0.1:8000/")]
    urls: Vec<String>,
    /// The server's process id: report its CPU time (and RSS) from /proc. `broadcast` takes several
    /// (their CPU time is summed).
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Deadline of the whole run, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Handshakes in flight while connecting.
    #[arg(long, default_value_t = 64)]
    parallel_connects: usize,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// C connections × M messages to an echo server: msgs/s and round trip p50/p99/max.
    Echo {
        #[command(flatten)]
        common: Common,
        /// Connections.
        #[arg(long, short = 'c', default_value_t = 50)]
        connections: usize,
        /// Messages per connection.
        #[arg(long, short = 'm', default_value_t = 1000)]
        messages: usize,
        /// Bytes per message (at least 10).
        #[arg(long, default_value_t = 32)]
        payload: usize,
        /// Messages in flight per connection.
        #[arg(long, default_value_t = 1)]
        depth: usize,
    },
    /// N members plus a sender on a chat server: deliveries/s, send-to-receive p50/p99/max, loss.
    Broadcast {
        #[command(flatten)]
        common: Common,
        /// Group members besides the sender.
        #[arg(long, short = 'n', default_value_t = 1000)]
        members: usize,
        /// Messages the sender sends.
        #[arg(long, short = 'm', default_value_t = 1000)]
        messages: usize,
        /// Connections that send, in turn (message k on sender k % S); each is a member too. Several
        /// senders' group sends run concurrently on the server, one sender's one after the other.
        #[arg(long, default_value_t = 1)]
        senders: usize,
        /// The chat protocol: `group` (a text T comes back as "[user] T") or `tutorial` (the Channels 4
        /// tutorial: {"message": T} comes back as {"message": T}).
        #[arg(long, value_enum, default_value = "group")]
        protocol: ChatProtocol,
        /// Bytes per sent text (at least ~24: sequence number and timestamp).
        #[arg(long, default_value_t = 64)]
        payload: usize,
        /// Messages in flight: message k is sent once message k-inflight reached every receiver.
        #[arg(long, default_value_t = 32, conflicts_with_all = ["rate", "unbounded"])]
        inflight: usize,
        /// Send at this many messages per second, open loop, whatever the receivers do (counts what a
        /// server loses in normal use).
        #[arg(long, conflicts_with = "unbounded")]
        rate: Option<f64>,
        /// Send the whole burst without waiting (the overload-policy measurement).
        #[arg(long)]
        unbounded: bool,
        /// Seconds deliveries may pause before the run ends (a stall is an error in bounded mode).
        #[arg(long, default_value_t = 3.0)]
        quiet: f64,
        /// Don't fail on lost messages (for --unbounded).
        #[arg(long)]
        allow_loss: bool,
    },
    /// Hold C connections (source addresses 127.0.0.x, 25,000 each), one message each: RSS per connection.
    Conns {
        #[command(flatten)]
        common: Common,
        /// Connections to hold.
        #[arg(long, short = 'c', default_value_t = 10_000)]
        connections: usize,
        /// Don't exchange a message on each connection before measuring.
        #[arg(long)]
        no_exchange: bool,
        /// Seconds to hold them after measuring.
        #[arg(long, default_value_t = 1.0)]
        hold: f64,
        /// Connections per source address 127.0.0.x.
        #[arg(long, default_value_t = channels_bench::client::CONNS_PER_SOURCE)]
        per_source: usize,
    },
    /// One holder of a fleet broadcast: C connections round-robin over the URLs, then the broadcast's
    /// arrival times (coordinates through files in --dir; see `channels_bench::fleet`).
    Hold {
        #[command(flatten)]
        common: Common,
        /// Connections to hold.
        #[arg(long, short = 'c', default_value_t = 1_000)]
        connections: usize,
        /// Connection i goes to URL (i + offset) % urls.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Source address of every connection (127.0.0.x), each bound to a port of its own from 1,024 up
        /// (cheap, where letting the kernel pick a port for a bound address slows down past ~10,000).
        #[arg(long)]
        source: Option<std::net::IpAddr>,
        /// The directory the fleet's processes coordinate through.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// This holder's name (its files in --dir).
        #[arg(long)]
        name: String,
    },
    /// The sender of a fleet broadcast: probes until every holder is ready, then one timestamped text.
    Send {
        #[command(flatten)]
        common: Common,
        /// The directory the fleet's processes coordinate through.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// Holders to wait for.
        #[arg(long)]
        holders: usize,
        /// Least seconds between two probes while some holder isn't ready (the next also waits for the
        /// sender's own copy of the last).
        #[arg(long, default_value_t = 1.0)]
        probe_interval: f64,
    },
    /// Connect / send / close cycles (mostly abrupt: no close frame), C at a time; then the server's open
    /// fds, threads, RSS (from /proc, needs --server-pid) and exported gauges, before and after.
    Churn {
        #[command(flatten)]
        common: Common,
        /// Cycles per round.
        #[arg(long, default_value_t = 20_000)]
        cycles: usize,
        /// Rounds (the server is read after each one).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Cycles before the start reading.
        #[arg(long, default_value_t = 0)]
        warmup: usize,
        /// Cycles in flight at once.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Percent of cycles that close cleanly (close frame both ways).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
        clean_percent: u8,
        /// Percent of cycles that reset the TCP connection (SO_LINGER 0) right after sending; the rest
        /// drop it (FIN, no close frame) once their text came back.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
        rst_percent: u8,
        /// Bytes per text.
        #[arg(long, default_value_t = 32)]
        payload: usize,
        /// The server's gauges, Prometheus text (e.g. `channels-ours --stats-bind`, or an example's
        /// `--metrics-bind`): http://127.0.0.1:PORT/metrics.
        #[arg(long)]
        metrics_url: Option<String>,
        /// Seconds the readings must stay unchanged for the server to count as settled.
        #[arg(long, default_value_t = 3.0)]
        settle_quiet: f64,
        /// Longest wait, in seconds, for the server to settle (per reading).
        #[arg(long, default_value_t = 30.0)]
        settle_deadline: f64,
        /// Connections per source address 127.0.0.x.
        #[arg(long, default_value_t = channels_bench::client::CONNS_PER_SOURCE)]
        per_source: usize,
    },
}

impl Common {
    /// The one URL of a single-server scenario.
    fn url(&self) -> Result<String, String> {
        match self.urls.as_slice() {
            [url] => Ok(url.clone()),
            _ => Err("this scenario takes one --url".into()),
        }
    }

    /// The one watched server of a single-server scenario.
    fn server(&self) -> Result<Option<ServerProc>, String> {
        match self.server_pids.as_slice() {
            [] => Ok(None),
            [pid] => watch(*pid).map(Some),
            _ => Err("this scenario takes at most one --server-pid".into()),
        }
    }
}

fn watch(pid: u32) -> Result<ServerProc, String> {
    ServerProc::new(pid).ok_or_else(|| format!("no process {pid} (can't read /proc/{pid}/stat)"))
}

async fn run(scenario: Scenario) -> Result<(Report, bool), String> {
    Ok(match scenario {
        Scenario::Echo {
            common,
            connections,
            messages,
            payload,
            depth,
        } => {
            let server = common.server()?;
            let options = EchoOptions {
                url: common.url()?,
                connections,
                messages,
                payload,
                depth,
                parallel_connects: common.parallel_connects,
                timeout: Duration::from_secs(common.timeout),
            };
            (channels_bench::echo::run(&options, server).await, false)
        }
        Scenario::Broadcast {
            common,
            members,
            messages,
            senders,
            protocol,
            payload,
            inflight,
            rate,
            unbounded,
            quiet,
            allow_loss,
        } => {
            let pacing = match (rate, unbounded) {
                (_, true) => Pacing::Burst,
                (Some(rate), false) if rate.is_finite() && rate > 0.0 => Pacing::Rate(rate),
                (Some(rate), false) => {
                    return Err(format!("--rate {rate}: give a positive number"));
                }
                (None, false) => Pacing::InFlight(inflight),
            };
            let servers = common
                .server_pids
                .iter()
                .map(|&pid| watch(pid))
                .collect::<Result<Vec<_>, _>>()?;
            let mut urls = common.urls.into_iter();
            let options = BroadcastOptions {
                url: urls.next().ok_or("give a --url")?,
                extra_urls: urls.collect(),
                protocol,
                members,
                messages,
                senders,
                payload,
                pacing,
                quiet: Duration::from_secs_f64(quiet.clamp(0.05, 60.0)),
                parallel_connects: common.parallel_connects,
                timeout: Duration::from_secs(common.timeout),
            };
            (
                channels_bench::broadcast::run_fleet(&options, servers).await,
                allow_loss,
            )
        }
        Scenario::Conns {
            common,
            connections,
            no_exchange,
            hold,
            per_source,
        } => {
            let server = common.server()?;
            let options = ConnsOptions {
                url: common.url()?,
                connections,
                exchange: !no_exchange,
                per_source,
                hold: Duration::from_secs_f64(hold.clamp(0.0, 3600.0)),
                parallel_connects: common.parallel_connects,
                timeout: Duration::from_secs(common.timeout),
                ..ConnsOptions::default()
            };
            (channels_bench::conns::run(&options, server).await, false)
        }
        Scenario::Hold {
            common,
            connections,
            offset,
            source,
            dir,
            name,
        } => {
            let options = channels_bench::fleet::HoldOptions {
                urls: common.urls,
                connections,
                offset,
                source,
                parallel_connects: common.parallel_connects,
                dir,
                name,
                timeout: Duration::from_secs(common.timeout),
            };
            (channels_bench::fleet::hold(&options).await, false)
        }
        Scenario::Send {
            common,
            dir,
            holders,
            probe_interval,
        } => {
            let options = channels_bench::fleet::SendOptions {
                url: common.url()?,
                dir,
                holders,
                probe_interval: Duration::from_secs_f64(probe_interval.clamp(0.05, 60.0)),
                timeout: Duration::from_secs(common.timeout),
            };
            (channels_bench::fleet::send(&options).await, false)
        }
        Scenario::Churn {
            common,
            cycles,
            rounds,
            warmup,
            concurrency,
            clean_percent,
            rst_percent,
            payload,
            metrics_url,
            settle_quiet,
            settle_deadline,
            per_source,
        } => {
            if usize::from(clean_percent) + usize::from(rst_percent) > 100 {
                return Err(format!(
                    "--clean-percent {clean_percent} + --rst-percent {rst_percent} is over 100"
                ));
            }
            let server = common.server()?;
            let options = ChurnOptions {
                url: common.url()?,
                cycles,
                rounds: rounds.max(1),
                warmup,
                concurrency,
                clean_percent,
                rst_percent,
                payload,
                per_source,
                settle_quiet: Duration::from_secs_f64(settle_quiet.clamp(0.0, 600.0)),
                settle_deadline: Duration::from_secs_f64(settle_deadline.clamp(0.0, 3600.0)),
                metrics_url,
                timeout: Duration::from_secs(common.timeout),
                ..ChurnOptions::default()
            };
            (channels_bench::churn::run(&options, server).await, false)
        }
    })
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli.scenario)) {
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
        Ok((report, allow_loss)) => {
            report.print();
            let clean = report.error_count == 0
                && report.duplicated == 0
                && (allow_loss || report.lost == 0);
            if clean {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(1)
            }
        }
    }
}
