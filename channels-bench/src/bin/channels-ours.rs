//! `channels-ours`: the echo and chat examples' consumers on the `channels` runtime, with the buffer
//! knobs exposed. Run: `channels-ours --protocol chat --bind 127.0.0.1:8200 --read-buffer 1024`.
//!
//! `--stats-bind 127.0.0.1:PORT` also serves the server's gauges as a Prometheus text page on that port
//! (open WebSockets, members of the chat group, live tokio tasks, dropped group messages, slow clients
//! closed), for `channels-bench churn --metrics-url`.

use std::sync::Arc;

use channels_bench::servers::{KnobArgs, Protocol, routing};
use channels_bench::stats_page;
use channels_runtime::layer::{ChannelLayer, InMemoryLayer, LayerConfig};
use channels_runtime::{Server, ServerHandle};
use clap::Parser;

/// `channels` serving the benchmark protocols.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8200")]
    bind: String,
    /// Which protocol to speak.
    #[arg(long, value_enum, default_value = "echo")]
    protocol: Protocol,
    /// Serve the server's gauges (Prometheus text) on this address too.
    #[arg(long)]
    stats_bind: Option<String>,
    /// Buffer sizes and queue capacity.
    #[command(flatten)]
    knobs: KnobArgs,
    /// tokio's `global_queue_interval`: scheduler ticks between two looks at the runtime's shared
    /// queue (tokio's default when absent). A group send wakes every member at once; those past the
    /// worker's local queue (256) wait in the shared one.
    #[arg(long)]
    global_queue_interval: Option<u32>,
    /// tokio's `event_interval`: scheduler ticks between two polls of the I/O driver (tokio's default
    /// when absent).
    #[arg(long)]
    event_interval: Option<u32>,
    /// Run on tokio's current-thread scheduler (one thread, one unbounded FIFO run queue) instead of the
    /// multi-thread one (whose worker's local queue holds 256 tasks: the rest of a fan-out's wake-ups go
    /// to the shared queue, visited every `global_queue_interval` ticks).
    #[arg(long)]
    current_thread: bool,
}

/// The gauges page: what `/proc` can't show.
fn page(handle: &ServerHandle, layer: &InMemoryLayer) -> String {
    let mut out = String::new();
    let slow = handle.slow_clients();
    stats_page::gauge(&mut out, "channels_connections", "", handle.connections());
    stats_page::gauge(
        &mut out,
        "channels_group_members",
        "group=\"chat\"",
        layer.group_len("chat"),
    );
    stats_page::gauge(
        &mut out,
        "tokio_alive_tasks",
        "",
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
    );
    stats_page::gauge(&mut out, "channels_layer_dropped", "", layer.dropped());
    stats_page::gauge(
        &mut out,
        "channels_slow_clients_closed",
        "",
        slow.closed_over_budget + slow.closed_write_timeout,
    );
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut runtime = if args.current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime.enable_all();
    if let Some(interval) = args.global_queue_interval {
        runtime.global_queue_interval(interval);
    }
    if let Some(interval) = args.event_interval {
        runtime.event_interval(interval);
    }
    runtime.build()?.block_on(serve(args))
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let knobs = args.knobs.knobs();
    let layer = Arc::new(InMemoryLayer::with_config(
        LayerConfig::default().capacity(knobs.capacity),
    ));
    let server = Server::new(routing(args.protocol))
        .with_layer(layer.clone() as Arc<dyn ChannelLayer>)
        .with_config(knobs.server_config());
    let Some(stats_bind) = args.stats_bind else {
        server.run(&args.bind).await?;
        return Ok(());
    };
    let stats = tokio::net::TcpListener::bind(&stats_bind).await?;
    let handle = Arc::new(server.spawn(&args.bind).await?);
    println!("Listening on http://{}/", handle.local_addr());
    println!("Stats on http://{}/metrics", stats.local_addr()?);
    let page_handle = handle.clone();
    let stats_task = tokio::spawn(async move {
        stats_page::serve(stats, move || page(&page_handle, &layer)).await;
    });
    shutdown_signal().await;
    stats_task.abort();
    let _ = stats_task.await;
    if let Ok(handle) = Arc::try_unwrap(handle) {
        handle.shutdown(std::time::Duration::from_secs(5)).await;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
