//! channels_redis's wire format (random prefix + msgpack dict) on arbitrary bytes, through the nearest
//! public entry: a `RedisLayer` reading what another process (a Django worker, say) stored in Redis. The
//! codec itself (`channels-runtime/src/layer/redis/codec.rs`) is crate-private.
//!
//! Each input is stored, as channels_redis stores a message, either on a normal channel's key (read by
//! `receive`, decoded whole) or, with `__asgi_channel__` naming a reply channel of this process, on the
//! process's key (read by its reader loop, a Channels 1 dict split into socket actions). Then a valid
//! message follows from another layer: it must arrive, whatever the bytes before it were. A panic
//! anywhere, or a reader that stops or loses the next message, aborts the run.
//!
//! Needs a Redis on 127.0.0.1: `redis-server --port 6399 --save '' --appendonly no` (or set
//! `CHANNELS_FUZZ_REDIS` to its URL). Run: `cargo +nightly fuzz run redis_codec -- -max_total_time=120`.
#![no_main]

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use channels_runtime::layer::{ChannelLayer, Inbox, LayerMessage, RedisConfig, RedisLayer};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

/// How long a valid message may take to arrive after the fuzzed one before the run aborts.
const ARRIVE: Duration = Duration::from_secs(10);
const PREFIX: &str = "fuzz:";
const CHANNEL: &str = "fuzz.jobs";

struct Fixture {
    rt: tokio::runtime::Runtime,
    redis: redis::aio::MultiplexedConnection,
    /// The layer under test: reads `CHANNEL` and owns `inbox`.
    reader: RedisLayer,
    /// Another process: sends the valid messages that must arrive after each input.
    other: RedisLayer,
    inbox: Inbox,
    next: AtomicU64,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let url =
        std::env::var("CHANNELS_FUZZ_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6399/".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (redis, reader, other, inbox) = rt.block_on(async {
        let config = || {
            RedisConfig::new(url.clone())
                .prefix(PREFIX)
                .expiry(Duration::from_secs(600))
        };
        let reader = RedisLayer::open(config())
            .await
            .unwrap_or_else(|e| panic!("no Redis at {url} (start one, see the module docs): {e}"));
        let other = RedisLayer::open(config()).await.expect("second layer");
        let inbox = reader.new_channel("specific.").await.expect("inbox");
        let client = redis::Client::open(url.as_str()).expect("url");
        let redis = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection");
        (redis, reader, other, inbox)
    });
    Fixture {
        rt,
        redis,
        reader,
        other,
        inbox,
        next: AtomicU64::new(0),
    }
});

/// channels_redis's score: the time the message was sent, in seconds; a little before now, so that it
/// is read before the valid message sent right after it.
fn score() -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs_f64() - 0.001
}

fn msgpack_str(out: &mut Vec<u8>, s: &str) {
    // str8/str16 are enough for the names used here.
    match s.len() {
        n if n < 32 => out.push(0xa0 | n as u8),
        n if n < 256 => out.extend([0xd9, n as u8]),
        n => out.extend([0xda, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(s.as_bytes());
}

/// The member stored for a reply channel of `reader`'s process: 12 prefix bytes, a dict of `entries`
/// (the input's count) + 1 entries, the first `__asgi_channel__: <inbox>`, the rest the input's bytes.
fn reply_member(inbox: &str, data: &[u8]) -> Vec<u8> {
    let (count, rest) = data.split_first().map_or((0, data), |(c, r)| (c & 0x0f, r));
    let mut out = vec![0u8; 12];
    out.push(0x80 | (count + 1));
    msgpack_str(&mut out, "__asgi_channel__");
    msgpack_str(&mut out, inbox);
    out.extend_from_slice(rest);
    out
}

async fn zadd(fixture: &Fixture, key: &str, member: &[u8]) {
    let mut redis = fixture.redis.clone();
    let () = redis::cmd("ZADD")
        .arg(key)
        .arg(score())
        .arg(member)
        .query_async(&mut redis)
        .await
        .expect("ZADD");
}

fn is_sentinel(message: &LayerMessage, n: u64) -> bool {
    matches!(message, LayerMessage::Json(map) if map.get("sentinel") == Some(&json!(n)))
}

/// A normal channel: the bytes, then a valid message, both read by `receive`.
async fn normal_channel(fixture: &Fixture, data: &[u8], n: u64) {
    zadd(fixture, &format!("{PREFIX}{CHANNEL}"), data).await;
    let sentinel = LayerMessage::json(json!({"sentinel": n})).expect("object");
    fixture
        .other
        .send(CHANNEL, sentinel)
        .await
        .expect("send the valid message");
    let arrived = tokio::time::timeout(ARRIVE, async {
        loop {
            let message = fixture.reader.receive(CHANNEL).await.expect("receive");
            if is_sentinel(&message, n) {
                break;
            }
        }
    })
    .await;
    assert!(
        arrived.is_ok(),
        "the valid message after the input never arrived"
    );
}

/// The process key: the bytes as a message for `inbox`, then a valid one, read by the reader loop.
async fn reply_channel(fixture: &Fixture, data: &[u8], n: u64) {
    let name = fixture.inbox.name();
    let process_key = format!(
        "{PREFIX}{}",
        &name[..=name.find('!').expect("a reply channel")]
    );
    zadd(fixture, &process_key, &reply_member(name, data)).await;
    let sentinel = LayerMessage::json(json!({"sentinel": n})).expect("object");
    fixture
        .other
        .send(name, sentinel)
        .await
        .expect("send the valid message");
    let arrived = tokio::time::timeout(ARRIVE, async {
        while !is_sentinel(&fixture.inbox.recv().await, n) {}
    })
    .await;
    assert!(
        arrived.is_ok(),
        "the valid message after the input never reached the reply channel"
    );
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let n = fixture.next.fetch_add(1, Ordering::Relaxed);
    fixture.rt.block_on(async {
        if flags & 1 == 0 {
            normal_channel(fixture, bytes, n).await;
        } else {
            reply_channel(fixture, bytes, n).await;
        }
    });
});
