//! Redis going away: clients keep their connections, sends wait for the reconnect up to the send
//! timeout, a send reported as failed is never delivered later, and delivery resumes without a
//! restart. Each test owns its `redis-server` and kills, freezes or restarts it.
#![cfg(feature = "redis")]

use crate::chat;
use crate::common::{GUARD, Ws, connect};
use crate::redis_support::{OwnRedis, chat_fleet, process_with};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use channels::layer::{ChannelLayer, LayerError, LayerMessage, RedisConfig};
use channels::prelude::*;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Reads text frames for `window`; `Err(code)` if the server closed the connection.
async fn read_for(ws: &mut Ws, window: Duration, into: &mut Vec<String>) -> Result<(), u16> {
    let until = Instant::now() + window;
    loop {
        match tokio::time::timeout_at(until, ws.receive()).await {
            Err(_) => return Ok(()),
            Ok(Ok(WsMessage::Text(text))) => into.push(text.to_string()),
            Ok(Ok(WsMessage::Close(frame))) => {
                return Err(frame.map_or(1005, |f| u16::from(f.code)));
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => panic!("client socket failed: {error}"),
        }
    }
}

/// Four clients on two chat servers (one Redis) send a message every 100 ms for 6 s; Redis is killed
/// after 1 s and restarted empty on the same port 1.5 s later. No client is disconnected, and after the
/// restart every client gets every other client's messages again (the servers re-declared their
/// members' memberships by themselves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_keep_their_connections_through_a_redis_restart() {
    let port = OwnRedis::free_port();
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let servers = chat_fleet(&redis, 2).await;
    let mut clients = Vec::new();
    for id in 0..4 {
        let mut ws = connect(servers[id % 2].local_addr(), "/chat/").await;
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for k in 0..60 {
                ws.send_text(&format!("c{id} {k}"))
                    .await
                    .expect("client sends");
                if let Err(code) = read_for(&mut ws, Duration::from_millis(100), &mut seen).await {
                    panic!("client {id} was disconnected with {code} at round {k}");
                }
            }
            (ws, seen)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(redis); // killed: everything it held is gone
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;

    let mut sockets = Vec::new();
    for client in clients {
        let (ws, seen) = client.await.expect("no client was disconnected");
        assert!(!seen.is_empty());
        sockets.push(ws);
    }
    // After the outage: each client's message reaches all four.
    for (id, ws) in sockets.iter_mut().enumerate() {
        ws.send_text(&format!("final {id}"))
            .await
            .expect("client sends");
    }
    for (id, ws) in sockets.iter_mut().enumerate() {
        let mut finals = BTreeSet::new();
        let until = Instant::now() + GUARD;
        while finals.len() < 4 {
            let frame = tokio::time::timeout_at(until, ws.receive())
                .await
                .unwrap_or_else(|_| panic!("client {id} got only {finals:?} after the restart"))
                .expect("the socket is open");
            match frame {
                WsMessage::Text(text) if text.starts_with("[user] final ") => {
                    finals.insert(text.to_string());
                }
                WsMessage::Close(frame) => panic!("client {id} was closed: {frame:?}"),
                _ => {}
            }
        }
    }
    drop(redis);
}

/// A send made while Redis is down waits for it to come back (within the send timeout), then
/// succeeds, and the message is delivered.
#[tokio::test]
async fn a_send_during_a_short_outage_waits_for_the_reconnect() {
    let port = OwnRedis::free_port();
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let config = RedisConfig::default().send_timeout(Duration::from_secs(10));
    let sender = process_with(&redis, config.clone()).await;
    drop(redis);
    let sending = tokio::spawn(async move {
        let sent = sender
            .send("jobs.wait", LayerMessage::text("patient"))
            .await;
        (sender, sent)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let (sender, sent) = sending.await.expect("the send ran");
    assert_eq!(sent, Ok(()));
    let worker = process_with(&redis, config).await;
    let got = tokio::time::timeout(GUARD, worker.receive("jobs.wait"))
        .await
        .expect("delivered")
        .expect("receive works");
    assert_eq!(got, LayerMessage::text("patient"));
    assert!(sender.stats().reconnects >= 1);
}

/// A send that reports failure is never delivered: Redis is frozen (it keeps the connection and will
/// run what it was sent when thawed), the send gives up after its timeout, and when Redis resumes it
/// refuses the late work. The next message is the first one delivered.
#[tokio::test]
async fn a_send_reported_failed_is_never_delivered_later() {
    let redis = OwnRedis::launch().await;
    let config = RedisConfig::default().send_timeout(Duration::from_millis(500));
    let sender = process_with(&redis, config.clone()).await;
    let worker = process_with(&redis, config).await;
    // Load the scripts first, so that the frozen server holds the very command that would queue.
    sender
        .send("jobs.warm", LayerMessage::text("warm"))
        .await
        .unwrap();

    redis.pause();
    let failed = sender.send("jobs.stall", LayerMessage::text("late")).await;
    assert!(
        matches!(failed, Err(LayerError::Unavailable { .. })),
        "{failed:?}"
    );
    redis.resume();

    // Once Redis runs again, the next send works, and it is the only message on the channel.
    let mut sent = Err(LayerError::ChannelFull);
    for _ in 0..50 {
        sent = sender.send("jobs.stall", LayerMessage::text("next")).await;
        if sent.is_ok() {
            break;
        }
    }
    assert_eq!(sent, Ok(()));
    let got = tokio::time::timeout(GUARD, worker.receive("jobs.stall"))
        .await
        .expect("delivered")
        .expect("receive works");
    assert_eq!(got, LayerMessage::text("next"));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), worker.receive("jobs.stall"))
            .await
            .is_err(),
        "the failed send was delivered after all"
    );
    assert!(sender.stats().failed_operations >= 1);
}

/// When Redis stays away longer than the send timeout, the chat's group send fails: the example tells
/// the client and keeps it connected (no 1011); once Redis is back, the client's messages flow again.
#[tokio::test]
async fn the_chat_keeps_a_client_whose_message_could_not_be_relayed() {
    let port = OwnRedis::free_port();
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let config = RedisConfig::default().send_timeout(Duration::from_millis(300));
    let layer = process_with(&redis, config).await;
    let server = Server::new(chat::channel_routing())
        .with_layer(Arc::new(layer))
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts");
    let mut ws = connect(server.local_addr(), "/chat/").await;
    ws.send_text("before").await.unwrap();
    assert_eq!(ws.receive_text().await.unwrap(), "[user] before");

    drop(redis);
    ws.send_text("during").await.unwrap();
    assert_eq!(
        ws.receive_text().await.unwrap(),
        "[system] your message was not delivered; try again"
    );

    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    // Bounded: until the layer has reconnected and restored the membership.
    let mut relayed = false;
    for attempt in 0..50 {
        ws.send_text(&format!("after {attempt}")).await.unwrap();
        // No reply yet is possible (the group was read before the membership was restored).
        match tokio::time::timeout(Duration::from_millis(500), ws.receive_text()).await {
            Ok(Ok(reply)) if reply.starts_with("[user] after") => {
                relayed = true;
                break;
            }
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(error)) => panic!("the client was disconnected: {error}"),
        }
    }
    assert!(relayed, "messages did not flow again after Redis came back");
    drop(redis);
}
