//! The Redis channel layer: groups, channels and reply channels across processes (each `RedisLayer` is one
//! process), and what happens when Redis goes away. Each test starts its own `redis-server` on a free port
//! (the binary must be on PATH; `.ci/run` installs it when missing) and never touches a shared one.
#![cfg(feature = "redis")]

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;
mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use channels::layer::{LayerConfig, LayerError, LayerMessage, RedisLayer};
use channels::prelude::*;
use common::*;

/// A layer, as one process would make it, on `redis`.
async fn process(redis: &OwnRedis, config: LayerConfig) -> RedisLayer {
    RedisLayer::connect(&redis.url(), config)
        .await
        .expect("the test's redis-server is up")
}

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
    // A channel whose process is gone is closed.
    let dead = format!("specific.{}!1", "zzzzzzzzzzzz");
    assert_eq!(
        b.send(&dead, LayerMessage::text("x")).await,
        Err(LayerError::ChannelClosed)
    );
}

#[tokio::test]
async fn custom_channels_are_fifo_across_processes_with_capacity() {
    let redis = OwnRedis::launch().await;
    let config = LayerConfig {
        capacity: 5,
        ..LayerConfig::default()
    };
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
    let mut servers = Vec::new();
    for _ in 0..2 {
        let layer = process(&redis, LayerConfig::default()).await;
        servers.push(
            Server::new(chat::channel_routing())
                .with_layer(Arc::new(layer))
                .spawn("127.0.0.1:0")
                .await
                .unwrap(),
        );
    }
    let mut one = connect(servers[0].local_addr(), "/chat/").await;
    let mut two = connect(servers[1].local_addr(), "/chat/").await;
    send_text(&mut one, "hi from one").await;
    assert_eq!(next_text(&mut one).await, "[user] hi from one");
    assert_eq!(next_text(&mut two).await, "[user] hi from one");
    send_text(&mut two, "hi from two").await;
    assert_eq!(next_text(&mut one).await, "[user] hi from two");
    assert_eq!(next_text(&mut two).await, "[user] hi from two");
}

/// A redis-server of this test's own, on a free port.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        OwnRedis { port, child }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on {} did not start", self.port);
    }

    /// A new redis-server on a free port, ready to take connections.
    async fn launch() -> OwnRedis {
        let redis = OwnRedis::start(OwnRedis::free_port());
        redis.wait_ready().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn redis_going_away_is_an_error_then_the_layer_reconnects() {
    let port = OwnRedis::free_port();
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let layer = RedisLayer::connect(&redis.url(), LayerConfig::default())
        .await
        .unwrap();
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
    assert!(matches!(error, LayerError::Unavailable(_)), "{error:?}");
    assert!(matches!(
        layer.send("jobs", LayerMessage::text("x")).await,
        Err(LayerError::Unavailable(_))
    ));

    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    // The layer reconnects by itself (commands and subscriber, with back-off); membership is re-declared by
    // the next group_add, as a reconnecting Channels client would. Bounded: 100 attempts.
    let mut delivered = false;
    for _ in 0..100 {
        if layer.group_add("g", inbox.name()).await.is_ok()
            && layer
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
