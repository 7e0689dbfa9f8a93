//! Delivery you can trust across processes (each `RedisLayer` stands for one process): custom channels
//! lose nothing however long the system idles or however often a receive is cancelled, and group
//! membership takes effect when `group_add`/`group_discard` returns.
#![cfg(feature = "redis")]

use crate::common::GUARD;
use crate::redis_support::{OwnRedis, process};

use std::time::Duration;

use channels::layer::{ChannelLayer, Inbox, LayerConfig, LayerMessage, RedisLayer};

/// A small xorshift generator: the tests need varied gaps, not good randomness. The seed is printed so
/// that a failure can be replayed.
struct Gaps(u64);

impl Gaps {
    fn new() -> Gaps {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        println!("gap seed: {seed}");
        Gaps(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn receive(layer: &RedisLayer, channel: &str) -> LayerMessage {
    tokio::time::timeout(GUARD, layer.receive(channel))
        .await
        .expect("a message in time")
        .expect("receive works")
}

async fn recv(inbox: &Inbox) -> LayerMessage {
    tokio::time::timeout(GUARD, inbox.recv())
        .await
        .expect("a message in time")
}

/// 1,000 sends from one process to a worker in another, with idle gaps between them: a few long ones
/// (one longer than the layer's 5 s blocking read, several up to 3 s, longer than any client timeout
/// the old layer had), the rest short. Every message arrives exactly once, in order. (About 25 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_channel_loses_nothing_across_idle_periods() {
    const SENDS: usize = 1000;
    let redis = OwnRedis::launch().await;
    let sender = process(&redis, LayerConfig::default()).await;
    let worker = process(&redis, LayerConfig::default()).await;
    let mut gaps = Gaps::new();
    // Which sends wait long before them: 8 drawn at random, plus one past the blocking read's 5 s.
    let mut long = std::collections::BTreeMap::new();
    while long.len() < 8 {
        long.insert(
            1 + gaps.below(SENDS as u64 - 1) as usize,
            1_000 + gaps.below(2_000),
        );
    }
    long.insert(SENDS / 2, 5_500);
    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(SENDS);
        while got.len() < SENDS {
            // Generous: the longest gap is 5.5 s.
            let message =
                tokio::time::timeout(Duration::from_secs(30), worker.receive("jobs.idle"))
                    .await
                    .expect("each message arrives")
                    .expect("receive works");
            got.push(message);
        }
        (worker, got)
    });
    for n in 0..SENDS {
        let gap = long.get(&n).copied().unwrap_or_else(|| gaps.below(3));
        tokio::time::sleep(Duration::from_millis(gap)).await;
        sender
            .send("jobs.idle", LayerMessage::text(n.to_string()))
            .await
            .expect("send works");
    }
    let (worker, got) = reader.await.expect("the reader ran");
    let want: Vec<LayerMessage> = (0..SENDS)
        .map(|n| LayerMessage::text(n.to_string()))
        .collect();
    assert_eq!(got, want);
    // Nothing more, nothing left in flight.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), worker.receive("jobs.idle"))
            .await
            .is_err()
    );
    assert_eq!(redis.cli(&["ZCARD", "asgijobs.idle"]).as_deref(), Some("0"));
    assert_eq!(
        redis.cli(&["ZCARD", "asgijobs.idle$inflight"]).as_deref(),
        Some("0")
    );
}

/// Receives cancelled at random points (a short timeout around each) lose nothing and duplicate
/// nothing: 300 messages, all received once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_receives_lose_nothing() {
    const SENDS: usize = 300;
    let redis = OwnRedis::launch().await;
    let sender = process(&redis, LayerConfig::default()).await;
    let worker = process(&redis, LayerConfig::default()).await;
    let mut gaps = Gaps::new();
    let feeder = tokio::spawn(async move {
        let mut gaps = Gaps::new();
        for n in 0..SENDS {
            tokio::time::sleep(Duration::from_millis(gaps.below(4))).await;
            sender
                .send("jobs.cancel", LayerMessage::text(n.to_string()))
                .await
                .expect("send works");
        }
    });
    let mut got = Vec::with_capacity(SENDS);
    let mut cancelled = 0usize;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < SENDS && tokio::time::Instant::now() < give_up {
        let patience = Duration::from_micros(gaps.below(3_000));
        match tokio::time::timeout(patience, worker.receive("jobs.cancel")).await {
            Ok(message) => got.push(message.expect("receive works")),
            Err(_) => cancelled += 1,
        }
    }
    feeder.await.expect("the feeder ran");
    let want: Vec<LayerMessage> = (0..SENDS)
        .map(|n| LayerMessage::text(n.to_string()))
        .collect();
    assert_eq!(got, want, "after {cancelled} cancelled receives");
    assert!(
        cancelled > 0,
        "no receive was cancelled: the test proved nothing"
    );
}

/// A message popped for a receiver that then went away goes back to the channel, and a worker in
/// another process gets it: once.
#[tokio::test]
async fn a_message_popped_for_a_receiver_that_left_goes_to_another_process() {
    let redis = OwnRedis::launch().await;
    let sender = process(&redis, LayerConfig::default()).await;
    let left = process(&redis, LayerConfig::default()).await;
    let other = process(&redis, LayerConfig::default()).await;
    // `left` starts reading (its puller blocks in Redis), then its receive is dropped.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), left.receive("jobs.handoff"))
            .await
            .is_err()
    );
    sender
        .send("jobs.handoff", LayerMessage::text("only once"))
        .await
        .unwrap();
    assert_eq!(
        receive(&other, "jobs.handoff").await,
        LayerMessage::text("only once")
    );
    // Not twice: neither process gets it again.
    let again = tokio::time::timeout(Duration::from_millis(1_500), async {
        tokio::select! {
            m = left.receive("jobs.handoff") => m,
            m = other.receive("jobs.handoff") => m,
        }
    })
    .await;
    assert!(again.is_err(), "delivered twice: {again:?}");
    assert_eq!(
        redis
            .cli(&["ZCARD", "asgijobs.handoff$inflight"])
            .as_deref(),
        Some("0")
    );
}

/// Membership takes effect when `group_add`/`group_discard` returns, for sends from any process: add
/// then send, the new member gets it; send then discard, the leaving member gets it; after the
/// discard, it gets nothing. 200 rounds, alternating which process changes membership and which sends.
#[tokio::test]
async fn membership_is_effective_when_add_and_discard_return() {
    let redis = OwnRedis::launch().await;
    let a = process(&redis, LayerConfig::default()).await;
    let b = process(&redis, LayerConfig::default()).await;
    let inbox = b.new_channel("specific.").await.unwrap();
    b.group_add("marker", inbox.name()).await.unwrap();
    for round in 0..200 {
        let (changer, sender) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        changer.group_add("room", inbox.name()).await.unwrap();
        sender
            .group_send("room", LayerMessage::text(format!("{round} joined")))
            .await
            .unwrap();
        assert_eq!(
            recv(&inbox).await,
            LayerMessage::text(format!("{round} joined"))
        );
        sender
            .group_send("room", LayerMessage::text(format!("{round} leaving")))
            .await
            .unwrap();
        changer.group_discard("room", inbox.name()).await.unwrap();
        assert_eq!(
            recv(&inbox).await,
            LayerMessage::text(format!("{round} leaving"))
        );
        sender
            .group_send("room", LayerMessage::text(format!("{round} after")))
            .await
            .unwrap();
        // One sender's group messages arrive in order: had "after" reached the inbox, it would come
        // before this marker.
        sender
            .group_send("marker", LayerMessage::text(format!("{round} marker")))
            .await
            .unwrap();
        assert_eq!(
            recv(&inbox).await,
            LayerMessage::text(format!("{round} marker"))
        );
    }
}
