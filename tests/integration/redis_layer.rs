//! The Redis channel layer: groups, channels and reply channels across processes (each `RedisLayer` is one
//! process), the conformance suite, and what happens when Redis goes away. Each test starts its own
//! `redis-server` on a free port (see `redis_support`) and never touches a shared one.
#![cfg(feature = "redis")]

use crate::common;
use crate::redis_support::{OwnRedis, OwnSentinel, chat_fleet, process, process_with};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use channels::layer::{
    LayerConfig, LayerError, LayerMessage, RedisConfig, RedisHost, RedisLayer, RedisLayerError,
    conformance,
};
use channels::prelude::*;
use common::*;

async fn recv(inbox: &channels::layer::Inbox) -> LayerMessage {
    tokio::time::timeout(GUARD, inbox.recv())
        .await
        .expect("message in time")
}

#[tokio::test]
async fn a_group_spans_processes() {
    let redis = OwnRedis::launch().await;
    let a = process(&redis, LayerConfig::default()).await;
    let b = process(&redis, LayerConfig::default()).await;
    assert_ne!(a.process_id(), b.process_id());
    let on_a = a.new_channel("specific.").await.unwrap();
    let on_b = b.new_channel("specific.").await.unwrap();
    a.group_add("chat", on_a.name()).await.unwrap();
    b.group_add("chat", on_b.name()).await.unwrap();
    a.group_send("chat", LayerMessage::text("hello"))
        .await
        .unwrap();
    assert_eq!(recv(&on_a).await, LayerMessage::text("hello"));
    assert_eq!(recv(&on_b).await, LayerMessage::text("hello"));
    b.group_discard("chat", on_b.name()).await.unwrap();
    a.group_send("chat", LayerMessage::text("second"))
        .await
        .unwrap();
    assert_eq!(recv(&on_a).await, LayerMessage::text("second"));
    assert_eq!(on_b.try_recv(), None);
    assert_eq!(b.local_group_len("chat"), 0);
}

#[tokio::test]
async fn a_reply_channel_can_be_reached_from_another_process() {
    let redis = OwnRedis::launch().await;
    let a = process(&redis, LayerConfig::default()).await;
    let b = process(&redis, LayerConfig::default()).await;
    let inbox = a.new_channel("specific.").await.unwrap();
    let from_b = ReplyChannel::new(inbox.name(), Arc::new(b.clone()));
    from_b.send_text("across").await.unwrap();
    assert_eq!(recv(&inbox).await, LayerMessage::text("across"));
    // Adding another process's channel to a group reaches it too.
    b.group_add("g", inbox.name()).await.unwrap();
    b.group_send("g", LayerMessage::text("via group"))
        .await
        .unwrap();
    assert_eq!(recv(&inbox).await, LayerMessage::text("via group"));
    // A reply channel of this process that has closed refuses sends. (One of another process is a key
    // in Redis, as in channels_redis: a send to it is queued and expires unread.)
    let name = inbox.name().to_owned();
    drop(inbox);
    assert_eq!(
        a.send(&name, LayerMessage::text("x")).await,
        Err(LayerError::ChannelClosed)
    );
}

#[tokio::test]
async fn custom_channels_are_fifo_across_processes_with_capacity() {
    let redis = OwnRedis::launch().await;
    let config = LayerConfig::default().capacity(5);
    let sender = process(&redis, config.clone()).await;
    let worker = process(&redis, config).await;
    for n in 0..5 {
        sender
            .send("jobs", LayerMessage::text(n.to_string()))
            .await
            .unwrap();
    }
    assert_eq!(
        sender.send("jobs", LayerMessage::text("6th")).await,
        Err(LayerError::ChannelFull)
    );
    for n in 0..5 {
        let message = tokio::time::timeout(GUARD, worker.receive("jobs"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(message, LayerMessage::text(n.to_string()));
    }
}

#[tokio::test]
async fn a_worker_process_serves_a_channel_sent_from_a_server_process() {
    let redis = OwnRedis::launch().await;
    let server_layer: Arc<dyn ChannelLayer> =
        Arc::new(process(&redis, LayerConfig::default()).await);
    let worker_layer: Arc<dyn ChannelLayer> =
        Arc::new(process(&redis, LayerConfig::default()).await);
    // websocket.receive hands the text to a worker in the other process, which answers the client.
    let (receive, upper) = hand_off_to_upper_worker();
    let server = Server::new(Routing::new().route(Route::to("websocket.receive", None, receive)))
        .with_layer(server_layer)
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let worker = Worker::new(Routing::new().route(Route::to("jobs.upper", None, upper)))
        .with_layer(worker_layer);
    let worker = tokio::spawn(worker.run());
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "from far away").await;
    assert_eq!(next_text(&mut ws).await, "FROM FAR AWAY");
    worker.abort();
}

#[tokio::test]
async fn the_chat_spans_two_servers() {
    let redis = OwnRedis::launch().await;
    let servers = chat_fleet(&redis, 2).await;
    let mut one = connect(servers[0].local_addr(), "/chat/").await;
    let mut two = connect(servers[1].local_addr(), "/chat/").await;
    send_text(&mut one, "hi from one").await;
    assert_eq!(next_text(&mut one).await, "[user] hi from one");
    assert_eq!(next_text(&mut two).await, "[user] hi from one");
    send_text(&mut two, "hi from two").await;
    assert_eq!(next_text(&mut one).await, "[user] hi from two");
    assert_eq!(next_text(&mut two).await, "[user] hi from two");
}

#[tokio::test]
async fn redis_going_away_is_an_error_then_the_layer_reconnects() {
    let port = OwnRedis::free_port();
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let config = RedisConfig::default().send_timeout(Duration::from_millis(300));
    let layer = process_with(&redis, config).await;
    let inbox = layer.new_channel("specific.").await.unwrap();
    layer.group_add("g", inbox.name()).await.unwrap();
    layer
        .group_send("g", LayerMessage::text("before"))
        .await
        .unwrap();
    assert_eq!(recv(&inbox).await, LayerMessage::text("before"));

    drop(redis); // kills it
    let error = layer
        .group_send("g", LayerMessage::text("during"))
        .await
        .unwrap_err();
    assert!(matches!(error, LayerError::Unavailable { .. }), "{error:?}");
    let cause = std::error::Error::source(&error).expect("the cause is kept");
    assert!(cause.is::<RedisLayerError>(), "{cause:?}");
    assert!(matches!(
        layer.send("jobs", LayerMessage::text("x")).await,
        Err(LayerError::Unavailable { .. })
    ));
    assert_eq!(layer.stats().failed_operations, 2);

    // Same port, empty: the layer reconnects by itself and re-adds the membership it made, so a group
    // send reaches the member again without anyone calling group_add. Bounded: 100 attempts.
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let mut delivered = false;
    for _ in 0..100 {
        if layer
            .group_send("g", LayerMessage::text("after"))
            .await
            .is_ok()
            && let Ok(message) =
                tokio::time::timeout(Duration::from_millis(200), inbox.recv()).await
        {
            assert_eq!(message, LayerMessage::text("after"));
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered, "no delivery after Redis came back");
    let stats = layer.stats();
    assert!(stats.restarts >= 1, "{stats:?}");
    assert!(stats.memberships_restored >= 1, "{stats:?}");
    drop(redis);
}

#[tokio::test]
async fn a_normal_channel_can_be_a_group_member() {
    let redis = OwnRedis::launch().await;
    let a = process(&redis, LayerConfig::default()).await;
    let b = process(&redis, LayerConfig::default()).await;
    let inbox = a.new_channel("specific.").await.unwrap();
    a.group_add("audit", inbox.name()).await.unwrap();
    a.group_add("audit", "audit.log").await.unwrap();
    b.group_send("audit", LayerMessage::text("entry"))
        .await
        .unwrap();
    assert_eq!(recv(&inbox).await, LayerMessage::text("entry"));
    let logged = tokio::time::timeout(GUARD, b.receive("audit.log"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged, LayerMessage::text("entry"));
    a.group_discard("audit", "audit.log").await.unwrap();
    b.group_send("audit", LayerMessage::text("second"))
        .await
        .unwrap();
    assert_eq!(recv(&inbox).await, LayerMessage::text("second"));
}

/// The layer keeps every rule of the spec that `InMemoryLayer` keeps (the shared conformance suite), on
/// real time with a short expiry.
#[tokio::test]
async fn the_conformance_suite_passes() {
    let redis = OwnRedis::launch().await;
    let url = redis.url();
    let made = AtomicUsize::new(0);
    let factory = |limits: LayerConfig| {
        // A fresh key prefix per layer: the checks share nothing.
        let prefix = format!("conformance{}", made.fetch_add(1, Ordering::Relaxed));
        let config = RedisConfig::new(url.clone()).prefix(prefix).limits(limits);
        RedisLayer::open(config)
    };
    let outcome = conformance::run_all(&factory, &conformance::Options::default()).await;
    assert_eq!(outcome, Ok(()));
}

#[tokio::test]
async fn keys_are_channels_redis_keys() {
    let redis = OwnRedis::launch().await;
    let layer = process(&redis, LayerConfig::default()).await;
    let inbox = layer.new_channel("specific.").await.unwrap();
    assert!(
        inbox
            .name()
            .starts_with(&format!("specific.{}!", layer.process_id())),
        "{}",
        inbox.name()
    );
    layer.group_add("chat", inbox.name()).await.unwrap();
    layer.send("jobs", LayerMessage::text("x")).await.unwrap();
    assert_eq!(
        redis.cli(&["ZCARD", "asgi:group:chat"]).as_deref(),
        Some("1")
    );
    assert_eq!(redis.cli(&["ZCARD", "asgijobs"]).as_deref(), Some("1"));
    let ttl: i64 = redis
        .cli(&["TTL", "asgi:group:chat"])
        .unwrap()
        .parse()
        .unwrap();
    assert!((86_000..=86_400).contains(&ttl), "{ttl}");
    let ttl: i64 = redis.cli(&["TTL", "asgijobs"]).unwrap().parse().unwrap();
    assert!((1..=60).contains(&ttl), "{ttl}");
}

/// A master found through Sentinel works like a plain host.
#[tokio::test]
async fn a_master_is_found_through_sentinel() {
    let master = OwnRedis::launch().await;
    let sentinel = OwnSentinel::launch(&master).await;
    let config = RedisConfig::default().hosts([RedisHost::sentinel([sentinel.url()], "mymaster")]);
    let a = RedisLayer::open(config.clone())
        .await
        .expect("found through sentinel");
    let b = RedisLayer::open(config)
        .await
        .expect("found through sentinel");
    let inbox = b.new_channel("specific.").await.unwrap();
    b.group_add("g", inbox.name()).await.unwrap();
    a.group_send("g", LayerMessage::text("via sentinel"))
        .await
        .unwrap();
    assert_eq!(recv(&inbox).await, LayerMessage::text("via sentinel"));
    a.send("jobs", LayerMessage::text("job")).await.unwrap();
    let got = tokio::time::timeout(GUARD, b.receive("jobs"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, LayerMessage::text("job"));
    // The data is on the master Sentinel named.
    assert_eq!(
        master.cli(&["EXISTS", "asgi:group:g"]).as_deref(),
        Some("1")
    );
}
