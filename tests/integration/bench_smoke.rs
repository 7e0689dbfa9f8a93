//! Smoke run of the load generator (`channels-bench`) against in-process servers, ours and the floor.
//!
//! Small, bounded counts; asserts zero errors, zero lost and zero duplicated messages. It never asserts a
//! timing: throughput and latency are measured by `scripts/bench.sh` (see BENCHMARKS.md).

use std::time::Duration;

use std::sync::Arc;

use channels_bench::broadcast::{self, BroadcastOptions, ChatProtocol, Pacing};
use channels_bench::churn::{self, ChurnOptions};
use channels_bench::conns::{self, ConnsOptions};
use channels_bench::echo::{self, EchoOptions};
use channels_bench::servers::{self, Knobs, Protocol};

async fn ours(protocol: Protocol) -> channels::ServerHandle {
    channels::Server::new(servers::routing(protocol))
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts")
}

async fn floor(protocol: Protocol) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("local addr"));
    let task = tokio::spawn(servers::floor(listener, protocol, Knobs::default()));
    (url, task)
}

fn echo_options(url: String) -> EchoOptions {
    EchoOptions {
        url,
        connections: 20,
        messages: 50,
        payload: 32,
        depth: 4,
        timeout: Duration::from_secs(60),
        ..EchoOptions::default()
    }
}

fn broadcast_options(url: String, pacing: Pacing) -> BroadcastOptions {
    BroadcastOptions {
        url,
        members: 50,
        messages: 20,
        payload: 48,
        pacing,
        quiet: Duration::from_secs(5),
        timeout: Duration::from_secs(60),
        ..BroadcastOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_every_message_comes_back_once_in_order() {
    let server = ours(Protocol::Echo).await;
    let report = echo::run(
        &echo_options(format!("ws://{}/any/path/", server.local_addr())),
        None,
    )
    .await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["messages"], 1000, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_every_member_once_in_order() {
    let server = ours(Protocol::Chat).await;
    let report = broadcast::run(
        &broadcast_options(
            format!("ws://{}/", server.local_addr()),
            Pacing::InFlight(4),
        ),
        None,
    )
    .await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["deliveries"], 51 * 20, "{report:#?}");
    assert_eq!(report.summary["out_of_order"], 0, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_from_several_senders_reaches_every_member_once() {
    let server = ours(Protocol::Chat).await;
    let options = BroadcastOptions {
        senders: 4,
        ..broadcast_options(
            format!("ws://{}/", server.local_addr()),
            Pacing::InFlight(8),
        )
    };
    let report = broadcast::run(&options, None).await;
    assert!(report.is_clean(), "{report:#?}");
    // Four of the 51 receivers send; every receiver, senders included, gets every message once, and each
    // sender's messages in its order.
    assert_eq!(report.summary["deliveries"], 51 * 20, "{report:#?}");
    assert_eq!(report.summary["duplicated"], 0, "{report:#?}");
    assert_eq!(report.summary["out_of_order"], 0, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_burst_within_capacity_loses_nothing() {
    // 20 messages never fill a member's reply channel (capacity 100), so even a burst loses nothing.
    let server = ours(Protocol::Chat).await;
    let report = broadcast::run(
        &broadcast_options(format!("ws://{}/", server.local_addr()), Pacing::Burst),
        None,
    )
    .await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(server.layer().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_broadcast_counts_every_delivery() {
    let server = ours(Protocol::Chat).await;
    let report = broadcast::run(
        &broadcast_options(
            format!("ws://{}/", server.local_addr()),
            Pacing::Rate(200.0),
        ),
        None,
    )
    .await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["mode"], "broadcast-paced", "{report:#?}");
    assert_eq!(report.summary["deliveries"], 51 * 20, "{report:#?}");
    assert_eq!(report.summary["lost"], 0, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conns_open_and_echo_one_message_each() {
    let server = ours(Protocol::Echo).await;
    let options = ConnsOptions {
        url: format!("ws://{}/", server.local_addr()),
        connections: 50,
        // Three source addresses (127.0.0.1-3), as 75,000 connections would use.
        per_source: 20,
        hold: Duration::ZERO,
        settle: Duration::ZERO,
        timeout: Duration::from_secs(60),
        ..ConnsOptions::default()
    };
    let report = conns::run(&options, None).await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["exchanged"], 50, "{report:#?}");
    assert_eq!(report.summary["sources"], 3, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_speaks_the_same_protocols() {
    let (url, echo_task) = floor(Protocol::Echo).await;
    let report = echo::run(&echo_options(url), None).await;
    assert!(report.is_clean(), "{report:#?}");
    echo_task.abort();

    let (url, chat_task) = floor(Protocol::Chat).await;
    let report = broadcast::run(&broadcast_options(url, Pacing::InFlight(4)), None).await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["deliveries"], 51 * 20, "{report:#?}");
    chat_task.abort();
}

/// Two servers sharing one in-memory layer: a fleet in one process.
async fn fleet(routing: fn() -> channels::routing::Routing) -> [channels::ServerHandle; 2] {
    let layer: Arc<dyn channels::layer::ChannelLayer> =
        Arc::new(channels::layer::InMemoryLayer::new());
    let mut handles = Vec::new();
    for _ in 0..2 {
        handles.push(
            channels::Server::new(routing())
                .with_layer(layer.clone())
                .spawn("127.0.0.1:0")
                .await
                .expect("server starts"),
        );
    }
    handles.try_into().expect("two servers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_over_a_fleet_speaks_the_tutorial_protocol() {
    let [a, b] = fleet(servers::tutorial_routing).await;
    let options = BroadcastOptions {
        extra_urls: vec![format!("ws://{}/ws/chat/bench/", b.local_addr())],
        protocol: ChatProtocol::Tutorial,
        ..broadcast_options(
            format!("ws://{}/ws/chat/bench/", a.local_addr()),
            Pacing::InFlight(4),
        )
    };
    let report = broadcast::run(&options, None).await;
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["protocol"], "tutorial", "{report:#?}");
    assert_eq!(report.summary["deliveries"], 51 * 20, "{report:#?}");
    // 51 receivers round-robin over two URLs: the sender and 25 more on the first, 25 on the second.
    let by_url = report.summary["by_url"].as_array().expect("by_url");
    assert_eq!(by_url.len(), 2, "{report:#?}");
    assert_eq!(by_url[0]["receivers"], 26, "{report:#?}");
    assert_eq!(by_url[1]["receivers"], 25, "{report:#?}");
    assert_eq!(by_url[1]["deliveries"], 25 * 20, "{report:#?}");
    assert_eq!(by_url[1]["lost"], 0, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_cycles_end_every_way_and_the_server_lets_go() {
    let layer = Arc::new(channels::layer::InMemoryLayer::new());
    let server = channels::Server::new(servers::routing(Protocol::Chat))
        .with_layer(layer.clone() as Arc<dyn channels::layer::ChannelLayer>)
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts");
    let server = Arc::new(server);
    // A gauges page the churn reads, as `channels-ours --stats-bind` serves it.
    let stats = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics_url = format!("http://{}/metrics", stats.local_addr().expect("addr"));
    let (page_server, page_layer) = (server.clone(), layer.clone());
    let page = tokio::spawn(channels_bench::stats_page::serve(stats, move || {
        let mut out = String::new();
        channels_bench::stats_page::gauge(
            &mut out,
            "channels_connections",
            "",
            page_server.connections(),
        );
        channels_bench::stats_page::gauge(
            &mut out,
            "channels_group_members",
            "group=\"chat\"",
            page_layer.group_len("chat"),
        );
        out
    }));
    let options = ChurnOptions {
        url: format!("ws://{}/", server.local_addr()),
        cycles: 200,
        warmup: 20,
        concurrency: 10,
        metrics_url: Some(metrics_url),
        settle_quiet: Duration::from_millis(300),
        settle_deadline: Duration::from_secs(10),
        timeout: Duration::from_secs(60),
        ..ChurnOptions::default()
    };
    // This process is the server's: its /proc readings are the server's (and the test's).
    let me = channels_bench::proc::ServerProc::new(std::process::id()).expect("/proc/self");
    let report = churn::run(&options, Some(me)).await;
    page.abort();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.summary["cycles"], 200, "{report:#?}");
    let by_ending = &report.summary["by_ending"];
    // 10% clean, 20% reset, the rest FIN: the percentages are exact over every 100 cycles.
    assert_eq!(by_ending["clean"]["ok"], 20, "{report:#?}");
    assert_eq!(by_ending["abrupt_rst"]["ok"], 40, "{report:#?}");
    assert_eq!(by_ending["abrupt_fin"]["ok"], 140, "{report:#?}");
    let readings = &report.summary["readings"];
    assert!(
        readings["open fds"]["start"].as_f64().is_some(),
        "{report:#?}"
    );
    // The gauges page was read (the values themselves depend on timing; the handle is asserted below).
    assert!(
        readings["channels_group_members{group=\"chat\"}"]["start"]
            .as_f64()
            .is_some(),
        "{report:#?}"
    );
    // Every connection's disconnect consumer ran: no connection open, no member left in the group.
    tokio::time::timeout(Duration::from_secs(30), server.wait_for_connections(0))
        .await
        .expect("every churned connection closes");
    assert_eq!(layer.group_len("chat"), 0);
}

#[test]
fn only_loopback_targets_are_accepted() {
    assert!(channels_bench::client::Target::parse("ws://127.0.0.5:9/").is_ok());
    assert!(channels_bench::client::Target::parse("ws://[::1]:9/").is_ok());
    assert!(channels_bench::client::Target::parse("ws://10.0.0.1:9/").is_err());
    assert!(channels_bench::client::Target::parse("ws://example.com:9/").is_err());
}
