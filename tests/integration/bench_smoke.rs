//! Smoke run of the load generator (`channels-bench`) against in-process servers, ours and the floor.
//!
//! Small, bounded counts; asserts zero errors, zero lost and zero duplicated messages. It never asserts a
//! timing: throughput and latency are measured by `scripts/bench.sh` (see BENCHMARKS.md).

use std::time::Duration;

use channels_bench::broadcast::{self, BroadcastOptions, Pacing};
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

#[test]
fn only_loopback_targets_are_accepted() {
    assert!(channels_bench::client::Target::parse("ws://127.0.0.5:9/").is_ok());
    assert!(channels_bench::client::Target::parse("ws://[::1]:9/").is_ok());
    assert!(channels_bench::client::Target::parse("ws://10.0.0.1:9/").is_err());
    assert!(channels_bench::client::Target::parse("ws://example.com:9/").is_err());
}
