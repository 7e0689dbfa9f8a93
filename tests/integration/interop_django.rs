//! Proven against the real thing: Django, Channels 4, Daphne and channels_redis from PyPI
//! (`tests/interop/requirements.txt`, in the virtualenv `tests/interop/setup.sh` makes) on a
//! redis-server of the test's own, beside the `tutorial_chat` example's routing on a `RedisLayer` with
//! channels_redis's defaults. The Django project (`tests/interop/django_project`) is the Channels 4
//! tutorial's chat, unchanged, with the default `RedisChannelLayer` config.
//!
//! Without the virtualenv the tests fail and say to run the set-up, unless `CHANNELS_SKIP_INTEROP=1`.
//! Every process is the test's own, killed when the test ends (guards that kill on drop); every wait
//! is bounded.
#![cfg(feature = "redis")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use channels::ServerHandle;
use channels::layer::{LayerConfig, RedisLayer};
use channels::prelude::*;
use channels::testing::WebsocketCommunicator;

use crate::common::connect;
use crate::interop_support::{
    ChildGuard, free_port, interop_dir, ready_or_skip, receive_json_slow, run_to_success, venv,
    wait_for_port,
};
use crate::redis_support::OwnRedis;
use crate::tutorial_chat;

/// The virtualenv's tools, or `None` when the test is skipped.
fn python_tools() -> Option<(PathBuf, PathBuf)> {
    let bin = venv().join("bin");
    let (python, daphne) = (bin.join("python"), bin.join("daphne"));
    ready_or_skip("CHANNELS_SKIP_INTEROP", &[python.clone(), daphne.clone()])
        .then_some((python, daphne))
}

/// A command of the Django project, on `redis`.
fn django(program: &PathBuf, redis: &OwnRedis) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(interop_dir("django_project"))
        .env("CHANNELS_INTEROP_REDIS", redis.url())
        .env("DJANGO_SETTINGS_MODULE", "mysite.settings")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    command
}

/// Daphne serving the tutorial's project on a free port, once it listens.
async fn start_daphne(daphne: &PathBuf, redis: &OwnRedis) -> (ChildGuard, SocketAddr) {
    let port = free_port();
    let mut child = ChildGuard::spawn(
        "daphne",
        django(daphne, redis).args([
            "-b",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "mysite.asgi:application",
        ]),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_port(addr, &mut child).await;
    (child, addr)
}

/// The `tutorial_chat` example's routing on a `RedisLayer` with channels_redis's defaults (what
/// `--redis URL` makes).
async fn start_rust(redis: &OwnRedis) -> ServerHandle {
    let layer = RedisLayer::connect(&redis.url(), LayerConfig::default())
        .await
        .expect("the test's redis-server is up");
    Server::new(tutorial_chat::channel_routing())
        .with_layer(Arc::new(layer))
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts")
}

async fn say(ws: &mut WebsocketCommunicator, m: &str) {
    ws.send_json(&json!({"message": m})).await.expect("send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_django_clients_in_one_room_get_every_message_once() {
    let Some((_python, daphne)) = python_tools() else {
        return;
    };
    let redis = OwnRedis::launch().await;
    let (mut daphne, django_addr) = start_daphne(&daphne, &redis).await;
    let rust = start_rust(&redis).await;
    let rust_addr = rust.local_addr();

    let mut room = vec![
        ("rust-1", connect(rust_addr, "/ws/chat/both/").await),
        ("django-1", connect(django_addr, "/ws/chat/both/").await),
        ("rust-2", connect(rust_addr, "/ws/chat/both/").await),
        ("django-2", connect(django_addr, "/ws/chat/both/").await),
    ];
    let mut rust_elsewhere = connect(rust_addr, "/ws/chat/elsewhere/").await;
    let mut django_elsewhere = connect(django_addr, "/ws/chat/elsewhere/").await;

    // Each member speaks in turn; after each message every member has it before the next is sent, so
    // each member's log must be exactly the messages in order: a copy missing or twice shows.
    let speakers: Vec<&str> = room.iter().map(|(name, _)| *name).collect();
    for speaker in 0..room.len() {
        let m = format!("from {}", speakers[speaker]);
        say(&mut room[speaker].1, &m).await;
        for (name, ws) in &mut room {
            let got = receive_json_slow(ws).await;
            assert_eq!(got, json!({"message": m}), "{name} after {m}");
        }
    }
    // A last message from each side: no member has an extra copy of an earlier one queued before it.
    for (speaker, m) in [(1, "last from django"), (0, "last from rust")] {
        say(&mut room[speaker].1, m).await;
        for (name, ws) in &mut room {
            assert_eq!(receive_json_slow(ws).await, json!({"message": m}), "{name}");
        }
    }
    // The other room heard none of it: its first message is its own.
    say(&mut django_elsewhere, "elsewhere").await;
    for ws in [&mut rust_elsewhere, &mut django_elsewhere] {
        assert_eq!(receive_json_slow(ws).await, json!({"message": "elsewhere"}));
    }
    daphne.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_django_scripts_group_send_reaches_rust_clients() {
    let Some((python, _daphne)) = python_tools() else {
        return;
    };
    let redis = OwnRedis::launch().await;
    let rust = start_rust(&redis).await;
    let mut a = connect(rust.local_addr(), "/ws/chat/script/").await;
    let mut b = connect(rust.local_addr(), "/ws/chat/script/").await;
    // `async_to_sync(get_channel_layer().group_send)("chat_script", {"type": "chat.message", ...})`
    run_to_success(
        "layer_send.py",
        django(&python, &redis).args(["layer_send.py", "group", "chat_script", "from django"]),
    )
    .await;
    for ws in [&mut a, &mut b] {
        assert_eq!(
            receive_json_slow(ws).await,
            json!({"message": "from django"})
        );
    }
}

/// The Rust side of the custom-channel test: a worker of the custom channel `rust-worker` (Channels'
/// `runworker rust-worker`), doing what the Python worker of `py-worker` does.
#[consumer]
async fn relay_to_room(message: Message) -> Result<()> {
    let room = message.content["room"].as_str().unwrap_or_default();
    let m = message.content["message"].as_str().unwrap_or_default();
    Group::new(format!("chat_{room}"))?
        .send(json!({"type": "chat.message", "message": format!("rust worker: {m}")}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_channels_cross_between_rust_and_python_workers() {
    let Some((python, _daphne)) = python_tools() else {
        return;
    };
    let redis = OwnRedis::launch().await;
    let rust = start_rust(&redis).await;
    let mut ws = connect(rust.local_addr(), "/ws/chat/workers/").await;

    // Rust -> Python: `Channel::send` to `py-worker`, which `manage.py runworker py-worker` serves;
    // the Python worker answers in the room. The message waits on Redis while the worker starts.
    let _python_worker = ChildGuard::spawn(
        "runworker",
        django(&python, &redis).args(["manage.py", "runworker", "py-worker"]),
    );
    let layer = RedisLayer::connect(&redis.url(), LayerConfig::default())
        .await
        .expect("the test's redis-server is up");
    Channel::new("py-worker")
        .expect("a channel name")
        .with_layer(Arc::new(layer))
        .send(json!({"type": "relay.to_room", "room": "workers", "message": "hi python"}))
        .await
        .expect("sent");
    assert_eq!(
        receive_json_slow(&mut ws).await,
        json!({"message": "python worker: hi python"})
    );

    // Python -> Rust: a Django script's `channel_layer.send("rust-worker", {...})` reaches a Rust
    // worker (its own process's layer) whose consumer answers in the room.
    channel_routing! {
        let worker_routing;
        "rust-worker" => relay_to_room,
    }
    let worker_layer = RedisLayer::connect(&redis.url(), LayerConfig::default())
        .await
        .expect("the test's redis-server is up");
    let worker = tokio::spawn(
        Worker::new(worker_routing)
            .with_layer(Arc::new(worker_layer))
            .run(),
    );
    let event = json!({"type": "relay.to_room", "room": "workers", "message": "hi rust"});
    run_to_success(
        "layer_send.py",
        django(&python, &redis).args([
            "layer_send.py",
            "channel",
            "rust-worker",
            &event.to_string(),
        ]),
    )
    .await;
    assert_eq!(
        receive_json_slow(&mut ws).await,
        json!({"message": "rust worker: hi rust"})
    );
    worker.abort();
}
