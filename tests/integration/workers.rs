//! Custom channels and worker consumers: FIFO, capacity, expiry, and replies to a connection.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use channels::layer::{LayerConfig, LayerMessage};
use channels::prelude::*;
use common::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn a_worker_consumer_gets_custom_channel_messages_in_fifo_order() {
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let make_thumbnail = Consumer::from_async("make_thumbnail", move |m: Message| {
        let tx = tx.clone();
        async move {
            let n = m.content["n"].as_u64().unwrap_or(u64::MAX);
            let _ = tx.send(n);
        }
    });
    let routing = Routing::new().route(Route::to("thumbnails.generate", None, make_thumbnail));
    let (_server, layer) = start(routing).await;
    let channel = Channel::new("thumbnails.generate")
        .unwrap()
        .with_layer(Arc::new(layer));
    for n in 0..50 {
        channel.send(json!({"n": n})).await.unwrap();
    }
    for n in 0..50 {
        assert_eq!(rx.recv().await, Some(n));
    }
}

#[tokio::test]
async fn a_worker_can_answer_on_a_connections_reply_channel() {
    // websocket.receive hands the work to a worker channel, with its reply channel, like Channels 1.x.
    let (receive, upper) = hand_off_to_upper_worker();
    let routing = Routing::new()
        .route(Route::to("websocket.receive", None, receive))
        .route(Route::to("jobs.upper", None, upper));
    let (server, _) = start(routing).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "shout").await;
    assert_eq!(next_text(&mut ws).await, "SHOUT");
}

#[tokio::test]
async fn a_full_channel_refuses_with_channel_full() {
    let layer = InMemoryLayer::with_config(LayerConfig::default().capacity(3));
    let channel = Channel::new("nobody.reads")
        .unwrap()
        .with_layer(Arc::new(layer));
    for n in 0..3 {
        channel.send(json!({"n": n})).await.unwrap();
    }
    assert!(matches!(
        channel.send(json!({"n": 3})).await,
        Err(Error::ChannelFull)
    ));
}

#[tokio::test(start_paused = true)]
async fn expired_messages_are_not_delivered() {
    let layer = InMemoryLayer::new(); // expiry 60 s, as in Channels
    let channel = Channel::new("slow.jobs")
        .unwrap()
        .with_layer(Arc::new(layer.clone()));
    channel.send(json!({"n": "stale"})).await.unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    channel.send(json!({"n": "fresh"})).await.unwrap();
    let message = layer.receive("slow.jobs").await.unwrap();
    let LayerMessage::Json(payload) = message else {
        panic!("not json: {message:?}")
    };
    assert_eq!(payload["n"], "fresh");
    assert_eq!(layer.expired("slow.jobs"), 1);
}

#[tokio::test]
async fn invalid_channel_names_are_refused() {
    assert!(matches!(
        Channel::new("no spaces allowed"),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        Channel::new("x".repeat(100)),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(Group::new("é"), Err(Error::InvalidName { .. })));
}

#[tokio::test]
async fn a_separate_worker_serves_a_shared_layer() {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let work = Consumer::from_async("work", move |m: Message| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(m.content["job"].as_str().unwrap_or_default().to_owned());
        }
    });
    let layer: Arc<dyn ChannelLayer> = Arc::new(InMemoryLayer::new());
    let worker = Worker::new(Routing::new().route(Route::to("work.queue", None, work)))
        .with_layer(layer.clone());
    let task = tokio::spawn(worker.run());
    let channel = Channel::new("work.queue").unwrap().with_layer(layer);
    channel.send(json!({"job": "a"})).await.unwrap();
    channel.send(json!({"job": "b"})).await.unwrap();
    assert_eq!(rx.recv().await.as_deref(), Some("a"));
    assert_eq!(rx.recv().await.as_deref(), Some("b"));
    task.abort();
}
