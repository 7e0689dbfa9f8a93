//! channels_redis's `symmetric_encryption_keys`, proven against the real thing: a Python script in
//! the interop virtualenv using channels_redis's own `RedisChannelLayer` with
//! `symmetric_encryption_keys=[...]`, and `RedisLayer`s configured with
//! `RedisConfig::symmetric_encryption_keys`, on a redis-server of the test's own. Messages cross both
//! ways, on normal channels and through groups; a Rust layer with another key delivers nothing and
//! counts what it dropped.
//!
//! Without the virtualenv the tests fail and say to run the set-up, unless `CHANNELS_SKIP_INTEROP=1`.
#![cfg(feature = "redis")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use channels::layer::{ChannelLayer, LayerMessage, RedisConfig, RedisLayer};
use serde_json::{Value, json};

use crate::interop_support::{
    ChildGuard, PROCESS_GUARD, interop_dir, ready_or_skip, run_to_success, venv,
};
use crate::redis_support::{OwnRedis, process_with};

/// The fleet's key, as in `CHANNEL_LAYERS["default"]["CONFIG"]["symmetric_encryption_keys"]`.
const KEY: &str = "secret";

/// channels_redis's layer, driven from the command line: `send CHANNEL JSON`, `group_send GROUP
/// JSON`, `receive CHANNEL` (prints `GOT <json>`), `join_and_receive GROUP` (prints `READY <channel>`
/// once a member, then `GOT <json>`).
const SCRIPT: &str = r#"
import asyncio, json, os, sys
from channels_redis.core import RedisChannelLayer

async def main():
    layer = RedisChannelLayer(
        hosts=[os.environ["CHANNELS_INTEROP_REDIS"]],
        symmetric_encryption_keys=[os.environ["CHANNELS_INTEROP_KEY"]],
    )
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "send":
        await layer.send(target, json.loads(sys.argv[3]))
    elif mode == "group_send":
        await layer.group_send(target, json.loads(sys.argv[3]))
    elif mode == "receive":
        message = await asyncio.wait_for(layer.receive(target), 30)
        print("GOT " + json.dumps(message, sort_keys=True), flush=True)
    elif mode == "join_and_receive":
        channel = await layer.new_channel()
        await layer.group_add(target, channel)
        print("READY " + channel, flush=True)
        message = await asyncio.wait_for(layer.receive(channel), 30)
        print("GOT " + json.dumps(message, sort_keys=True), flush=True)
    await layer.close_pools()

asyncio.run(main())
"#;

/// The virtualenv's Python, or `None` when the test is skipped.
fn python() -> Option<PathBuf> {
    let python = venv().join("bin/python");
    ready_or_skip("CHANNELS_SKIP_INTEROP", std::slice::from_ref(&python)).then_some(python)
}

/// The script with `args`, on `redis`, with the fleet's key.
fn channels_redis(python: &PathBuf, redis: &OwnRedis, args: &[&str]) -> Command {
    let mut command = Command::new(python);
    command
        .current_dir(interop_dir(""))
        .env("CHANNELS_INTEROP_REDIS", redis.url())
        .env("CHANNELS_INTEROP_KEY", KEY)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .arg("-c")
        .arg(SCRIPT)
        .args(args);
    command
}

/// A Rust process's layer on `redis` with `key`.
async fn rust_layer(redis: &OwnRedis, key: &str) -> RedisLayer {
    process_with(
        redis,
        RedisConfig::default().symmetric_encryption_keys(vec![key.to_owned()]),
    )
    .await
}

fn json_of(message: LayerMessage) -> Value {
    match message {
        LayerMessage::Json(map) => Value::Object((*map).clone()),
        other => panic!("expected a JSON message, got {other:?}"),
    }
}

/// The `GOT <json>` line the script printed.
fn got(log: &str) -> Value {
    let line = log
        .lines()
        .find_map(|line| line.strip_prefix("GOT "))
        .unwrap_or_else(|| panic!("the script printed no message:\n{log}"));
    serde_json::from_str(line).expect("the script prints JSON")
}

async fn receive(layer: &RedisLayer, channel: &str) -> LayerMessage {
    tokio::time::timeout(PROCESS_GUARD, layer.receive(channel))
        .await
        .expect("a message within the guard")
        .expect("receive succeeds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_redis_encrypted_messages_reach_rust() {
    let Some(python) = python() else { return };
    let redis = OwnRedis::launch().await;
    let layer = rust_layer(&redis, KEY).await;
    let event = json!({"type": "job.run", "n": 7, "text": "from python"});

    run_to_success(
        "channels_redis send",
        &mut channels_redis(&python, &redis, &["send", "jobs", &event.to_string()]),
    )
    .await;
    // Stored encrypted: the member is the random prefix and a Fernet token, not msgpack.
    let stored = redis
        .cli(&["ZRANGE", "asgijobs", "0", "-1"])
        .expect("redis-cli");
    assert!(
        stored.contains("gAAAAA") && !stored.contains("from python"),
        "{stored}"
    );
    assert_eq!(json_of(receive(&layer, "jobs").await), event);

    let inbox = layer.new_channel("specific.").await.unwrap();
    layer.group_add("room", inbox.name()).await.unwrap();
    let event = json!({"type": "chat.message", "message": "to the group"});
    run_to_success(
        "channels_redis group_send",
        &mut channels_redis(&python, &redis, &["group_send", "room", &event.to_string()]),
    )
    .await;
    let message = tokio::time::timeout(PROCESS_GUARD, inbox.recv())
        .await
        .expect("the group message within the guard");
    assert_eq!(json_of(message), event);
    assert_eq!(layer.stats().undecryptable, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_encrypted_messages_reach_channels_redis() {
    let Some(python) = python() else { return };
    let redis = OwnRedis::launch().await;
    let layer = rust_layer(&redis, KEY).await;

    let event = json!({"type": "job.run", "text": "from rust"});
    layer
        .send("py-jobs", LayerMessage::json(event.clone()).unwrap())
        .await
        .unwrap();
    let log = run_to_success(
        "channels_redis receive",
        &mut channels_redis(&python, &redis, &["receive", "py-jobs"]),
    )
    .await;
    assert_eq!(got(&log), event);

    let member = ChildGuard::spawn(
        "channels_redis join_and_receive",
        &mut channels_redis(&python, &redis, &["join_and_receive", "py-room"]),
    );
    // The script says when its membership is in Redis; its output file is the only signal it gives.
    let deadline = Instant::now() + PROCESS_GUARD;
    while !member.log().contains("READY ") {
        assert!(
            Instant::now() < deadline,
            "the script did not join:\n{}",
            member.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let event = json!({"type": "chat.message", "message": "rust to the group"});
    layer
        .group_send("py-room", LayerMessage::json(event.clone()).unwrap())
        .await
        .unwrap();
    let (status, log) = member.wait(PROCESS_GUARD).await;
    assert!(status.is_some_and(|s| s.success()), "{log}");
    assert_eq!(got(&log), event);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_layer_with_another_key_delivers_nothing_and_counts_it() {
    let Some(python) = python() else { return };
    let redis = OwnRedis::launch().await;
    let wrong = Arc::new(rust_layer(&redis, "not the secret").await);
    let inbox = wrong.new_channel("specific.").await.unwrap();
    wrong.group_add("room", inbox.name()).await.unwrap();

    let event = json!({"type": "chat.message", "message": "secret"});
    run_to_success(
        "channels_redis group_send",
        &mut channels_redis(&python, &redis, &["group_send", "room", &event.to_string()]),
    )
    .await;
    run_to_success(
        "channels_redis send",
        &mut channels_redis(&python, &redis, &["send", "jobs", &event.to_string()]),
    )
    .await;
    let reader = tokio::spawn({
        let wrong = Arc::clone(&wrong);
        async move { wrong.receive("jobs").await }
    });
    // Both messages are popped and dropped, and counted: the counter is the event to wait for.
    let deadline = Instant::now() + PROCESS_GUARD;
    while wrong.stats().undecryptable < 2 {
        assert!(
            Instant::now() < deadline,
            "the messages were not dropped: {:?}",
            wrong.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(wrong.stats().undecryptable, 2);
    assert_eq!(
        redis
            .cli(&["ZCARD", "asgijobs"])
            .map(|n| n.trim().to_owned()),
        Some("0".to_owned()),
        "the message was taken off the channel"
    );
    assert!(!reader.is_finished(), "nothing was delivered on `jobs`");
    assert_eq!(
        inbox.try_recv(),
        None,
        "nothing was delivered to the group member"
    );
    reader.abort();
}
