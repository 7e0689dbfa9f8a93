//! Real-time push (the seed's open problem): looping consumers whose sends leave at once, senders outside
//! consumers, cancellation on close, and the `ticker` example.

use crate::common;
use crate::ticker;

use std::sync::Arc;
use std::time::Duration;

use channels::prelude::*;
use common::*;
use tokio::sync::{Notify, mpsc};

/// A consumer that sends "first", waits for the test's go-ahead, then sends "second".
fn two_step(go: Arc<Notify>) -> Routing {
    let consumer = Consumer::from_async("two_step", move |m: Message| {
        let go = go.clone();
        async move {
            m.reply_channel.send_text("first").await?;
            go.notified().await;
            m.reply_channel.send_text("second").await
        }
    });
    Routing::new().route(Route::to("websocket.receive", None, consumer))
}

#[tokio::test]
async fn a_looping_consumers_messages_arrive_before_it_finishes() {
    let go = Arc::new(Notify::new());
    let (server, _) = start(two_step(go.clone())).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "start").await;
    // The consumer cannot finish until we have read "first": so "first" left while it was running.
    assert_eq!(next_text(&mut ws).await, "first");
    go.notify_one();
    assert_eq!(next_text(&mut ws).await, "second");
}

#[tokio::test]
async fn a_looping_consumer_does_not_stop_other_connections() {
    let go = Arc::new(Notify::new());
    let (server, _) = start(two_step(go.clone())).await;
    let mut looping = connect(server.local_addr(), "/").await;
    send_text(&mut looping, "start").await;
    assert_eq!(next_text(&mut looping).await, "first");
    // `looping`'s consumer is parked; another connection is served meanwhile.
    let mut other = connect(server.local_addr(), "/").await;
    send_text(&mut other, "start").await;
    assert_eq!(next_text(&mut other).await, "first");
    go.notify_waiters();
    assert_eq!(next_text(&mut looping).await, "second");
    assert_eq!(next_text(&mut other).await, "second");
}

#[tokio::test]
async fn a_consumer_still_running_when_its_connection_closes_is_cancelled() {
    struct DropSignal(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for DropSignal {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let forever = Consumer::from_async("forever", move |m: Message| {
        let signal = DropSignal(dropped_tx.lock().unwrap().take());
        async move {
            let _signal = signal;
            m.reply_channel.send_text("running").await?;
            std::future::pending::<()>().await;
            Ok::<(), Error>(())
        }
    });
    let (server, _) =
        start(Routing::new().route(Route::to("websocket.receive", None, forever))).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "go").await;
    assert_eq!(next_text(&mut ws).await, "running");
    drop(ws);
    tokio::time::timeout(GUARD, dropped_rx)
        .await
        .expect("consumer cancelled in time")
        .expect("signal sent");
    server.wait_for_connections(0).await;
}

#[tokio::test]
async fn code_outside_consumers_can_push_to_a_group_and_to_one_connection() {
    let (names_tx, mut names_rx) = mpsc::unbounded_channel::<String>();
    let join = Consumer::from_async("join", move |m: Message| {
        let names_tx = names_tx.clone();
        async move {
            m.reply_channel.accept().await?;
            group!("news").add(&m.reply_channel).await?;
            let _ = names_tx.send(m.reply_channel.name().unwrap_or_default().to_owned());
            Ok::<(), Error>(())
        }
    });
    let (server, layer) =
        start(Routing::new().route(Route::to("websocket.connect", None, join))).await;
    let mut a = connect(server.local_addr(), "/").await;
    let mut b = connect(server.local_addr(), "/").await;
    let a_name = names_rx.recv().await.unwrap();
    let _b_name = names_rx.recv().await.unwrap();

    // A background task, holding only the layer: no Message in hand.
    let layer: Arc<dyn ChannelLayer> = Arc::new(layer);
    let task_layer = layer.clone();
    tokio::spawn(async move {
        group!("news")
            .with_layer(task_layer.clone())
            .send(json!({"text": "to everyone"}))
            .await
            .unwrap();
        ReplyChannel::new(a_name, task_layer)
            .send_text("only to a")
            .await
            .unwrap();
    })
    .await
    .unwrap();
    assert_eq!(next_text(&mut a).await, "to everyone");
    assert_eq!(next_text(&mut b).await, "to everyone");
    assert_eq!(next_text(&mut a).await, "only to a");
}

#[tokio::test]
async fn sends_to_a_closed_connection_are_disconnected_errors() {
    let (reply_tx, mut reply_rx) = mpsc::unbounded_channel::<ReplyChannel>();
    let keep = Consumer::from_async("keep", move |m: Message| {
        let reply_tx = reply_tx.clone();
        async move {
            let _ = reply_tx.send(m.reply_channel.clone());
            m.reply_channel.accept().await
        }
    });
    let (server, _) = start(Routing::new().route(Route::to("websocket.connect", None, keep))).await;
    let ws = connect(server.local_addr(), "/").await;
    let reply = reply_rx.recv().await.unwrap();
    drop(ws);
    server.wait_for_connections(0).await;
    assert!(matches!(
        reply.send_text("late").await,
        Err(Error::Disconnected)
    ));
}

#[tokio::test]
async fn ticker_pushes_ticks_to_every_listener() {
    let (server, layer) = start(ticker::channel_routing()).await;
    let mut a = connect(server.local_addr(), "/ticks/").await;
    let mut b = connect(server.local_addr(), "/ticks/").await;
    let ticks = group!("ticks").with_layer(Arc::new(layer));
    let task = tokio::spawn(ticker::tick_forever(ticks, Duration::from_millis(5)));
    for ws in [&mut a, &mut b] {
        let first: serde_json::Value = serde_json::from_str(&next_text(ws).await).unwrap();
        let second: serde_json::Value = serde_json::from_str(&next_text(ws).await).unwrap();
        assert!(second["tick"].as_u64() > first["tick"].as_u64());
        assert!(first["at_ms"].as_u64().is_some_and(|ms| ms > 0));
    }
    task.abort();
}

#[tokio::test]
async fn ticker_countdown_sends_every_number_from_one_invocation() {
    let (server, _) = start(ticker::channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/countdown/4/").await;
    send_text(&mut ws, "start").await;
    for expected in ["3", "2", "1", "0"] {
        assert_eq!(next_text(&mut ws).await, expected);
    }
    assert_eq!(
        refused_status(server.local_addr(), "/countdown/abc/").await,
        404
    );
    let (status, body) = http_get(server.local_addr(), "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("/ticks/"));
}

#[tokio::test]
async fn a_consumer_sending_more_than_the_capacity_in_a_burst_is_paced_not_failed() {
    // 1,000 sends from one invocation, far more than the reply channel's capacity (100): every one arrives.
    let burst = Consumer::from_async("burst", |m: Message| async move {
        for i in 0..1000 {
            m.reply_channel.send_text(i.to_string()).await?;
        }
        Ok::<(), Error>(())
    });
    let (server, _) =
        start(Routing::new().route(Route::to("websocket.receive", None, burst))).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "go").await;
    for i in 0..1000 {
        assert_eq!(next_text(&mut ws).await, i.to_string());
    }
}

/// An atomic consumer: sends "held", reports its reply channel, waits for the go-ahead, then succeeds or
/// fails as the message asks.
fn atomic_routing(report: mpsc::UnboundedSender<ReplyChannel>, go: Arc<Notify>) -> Routing {
    let consumer = Consumer::from_async("atomic", move |m: Message| {
        let report = report.clone();
        let go = go.clone();
        async move {
            m.reply_channel.send_text("held").await?;
            let _ = report.send(m.reply_channel.clone());
            go.notified().await;
            if m.text() == Some("fail") {
                return Err(Error::InvalidMessage("asked to fail".into()));
            }
            Ok(())
        }
    })
    .atomic();
    Routing::new().route(Route::to("websocket.receive", None, consumer))
}

#[tokio::test]
async fn an_atomic_consumers_sends_leave_when_it_returns_ok() {
    let (report, mut reports) = mpsc::unbounded_channel();
    let go = Arc::new(Notify::new());
    let (server, _) = start(atomic_routing(report, go.clone())).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "succeed").await;
    let reply = reports.recv().await.unwrap();
    // Sent from outside while the consumer still holds "held": it arrives first.
    tokio::spawn(async move { reply.send_text("outside").await })
        .await
        .unwrap()
        .unwrap();
    go.notify_one();
    assert_eq!(next_text(&mut ws).await, "outside");
    assert_eq!(next_text(&mut ws).await, "held");
}

#[tokio::test]
async fn an_atomic_consumers_sends_are_discarded_when_it_fails() {
    let (report, mut reports) = mpsc::unbounded_channel();
    let go = Arc::new(Notify::new());
    let (server, _) = start(atomic_routing(report, go.clone())).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "fail").await;
    reports.recv().await.unwrap();
    go.notify_one();
    // The close comes with nothing before it: "held" was discarded.
    assert_eq!(ws.receive_close().await.unwrap(), 1011);
}
