//! Micro-benchmarks of the runtime's hot paths, through its public API only.
//!
//! Run: `cargo bench -p channels-runtime --bench runtime` (add `-- --quick` for a short run, or a filter
//! such as `-- fan_out`). Figures and their reading are in BENCHMARKS.md.
// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use channels_runtime::layer::{ChannelLayer, InMemoryLayer, Inbox, LayerConfig, LayerMessage};
use channels_runtime::routing::{Consumer, PathParams, Route, Routing};
use channels_runtime::{Message, ReplyChannel};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// A table of `n` routes, each a regex with two captures (one typed), as `channel_routing!` expands.
fn table(n: usize) -> Routing {
    let mut routing = Routing::new();
    for i in 0..n {
        let consumer = Consumer::from_async("room", |_m: Message| async {});
        routing = routing.route(Route::new(
            "websocket.receive",
            Some(&format!(r"^/room{i}/(?P<name>[a-z]+)/(?P<id>\d+)/$")),
            "room",
            move |params: &PathParams| {
                let _id: u32 = params.parse("id")?;
                let _name: String = params.parse("name")?;
                Some(consumer.clone())
            },
        ));
    }
    routing
}

fn route_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_dispatch");
    for n in [1usize, 10, 100] {
        let routing = table(n);
        let path = format!("/room{}/lobby/42/", n - 1);
        assert!(routing.resolve("websocket.receive", &path).is_some());
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("resolve_last_of", n), &n, |b, _| {
            b.iter(|| routing.resolve(black_box("websocket.receive"), black_box(&path)))
        });
    }
    group.finish();
}

fn fan_out(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("group_fan_out");
    group.sample_size(30);
    for members in [1_000usize, 10_000] {
        let layer = InMemoryLayer::with_config(LayerConfig::default());
        let inboxes = rt.block_on(async {
            let mut inboxes = Vec::with_capacity(members);
            for _ in 0..members {
                let inbox = layer.new_channel("specific.").await.expect("new_channel");
                layer
                    .group_add("chat", inbox.name())
                    .await
                    .expect("group_add");
                inboxes.push(inbox);
            }
            inboxes
        });
        let message = LayerMessage::text("[user] hello, this is one chat message");
        group.throughput(Throughput::Elements(members as u64));
        group.bench_with_input(
            BenchmarkId::new("group_send_then_drain", members),
            &members,
            |b, _| {
                b.iter(|| {
                    rt.block_on(layer.group_send("chat", message.clone()))
                        .expect("group_send");
                    let mut got = 0usize;
                    for inbox in &inboxes {
                        while let Some(m) = inbox.try_recv() {
                            black_box(m);
                            got += 1;
                        }
                    }
                    assert_eq!(got, members);
                })
            },
        );
    }
    group.finish();
}

/// A layer, one process-local channel on it, and a reply channel that sends to it by name.
fn reply_fixture(rt: &tokio::runtime::Runtime) -> (Arc<InMemoryLayer>, Inbox, ReplyChannel) {
    let layer = Arc::new(InMemoryLayer::new());
    let inbox = rt
        .block_on(layer.new_channel("specific."))
        .expect("new_channel");
    let dyn_layer: Arc<dyn ChannelLayer> = layer.clone();
    let reply = ReplyChannel::new(inbox.name().to_owned(), dyn_layer);
    (layer, inbox, reply)
}

fn reply_channel(c: &mut Criterion) {
    let rt = runtime();
    let (layer, inbox, reply) = reply_fixture(&rt);
    let text = tokio_tungstenite::tungstenite::Utf8Bytes::from_static("hello");
    let mut group = c.benchmark_group("reply_channel");
    group.throughput(Throughput::Elements(1));
    // What the harness itself costs: `block_on` of a future that is ready at once.
    group.bench_function("block_on_baseline", |b| {
        b.iter(|| rt.block_on(async { black_box(1u32) }))
    });
    group.bench_function("send_text_then_recv", |b| {
        b.iter(|| {
            rt.block_on(reply.send_text(text.clone()))
                .expect("send_text");
            black_box(inbox.try_recv().expect("a message"))
        })
    });
    group.bench_function("layer_send_then_recv", |b| {
        b.iter(|| {
            rt.block_on(layer.send(inbox.name(), LayerMessage::Text(text.clone())))
                .expect("send");
            black_box(inbox.try_recv().expect("a message"))
        })
    });
    group.finish();
}

fn encode_decode(c: &mut Criterion) {
    let rt = runtime();
    let (_layer, inbox, reply) = reply_fixture(&rt);
    let mut group = c.benchmark_group("encode_decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("reply_dict_send_then_recv", |b| {
        b.iter(|| {
            rt.block_on(reply.send(json!({"text": black_box("hello, world")})))
                .expect("send");
            black_box(inbox.try_recv().expect("a message"))
        })
    });
    group.bench_function("message_content_index_text", |b| {
        b.iter(|| {
            let message = Message::from_text(black_box("hello, world"));
            black_box(message.content["text"].as_str().map(str::len))
        })
    });
    group.bench_function("message_content_typed_text", |b| {
        b.iter(|| {
            let message = Message::from_text(black_box("hello, world"));
            black_box(message.content.text().map(str::len))
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    route_dispatch,
    fan_out,
    reply_channel,
    encode_decode
);
criterion_main!(benches);
