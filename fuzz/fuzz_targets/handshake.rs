//! Raw bytes written to a running server over TCP, one connection per input: the HTTP/1 parser, the
//! upgrade handshake, the route table on the request's (percent-decoded) path, declared groups filled in
//! from the path, and, after a 101, the WebSocket frames that follow, whose text the consumers send back
//! as a reply dict, or to a group.
//!
//! The server (one per process, in a static runtime, on 127.0.0.1 only) must never panic (libFuzzer's
//! panic hook aborts on a panic in any thread, the server's tasks included) and must keep serving: every
//! [`CHECK_EVERY`] inputs a fresh valid handshake must echo a message, and once it has closed, no
//! WebSocket connection may be left open (a leaked connection task aborts the run).
//!
//! The first byte of an input is a flag: bit 0 half-closes the client's side after writing (the server
//! sees EOF at once); otherwise the client waits for the server to go quiet for [`IDLE`] and then drops
//! the socket (a reset, or a FIN mid-frame).
//!
//! Run: `cargo +nightly fuzz run handshake fuzz/corpus/handshake fuzz/seeds/handshake --
//! -max_total_time=120` (from the repository root).
#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use channels_runtime::routing::{Consumer, PathParams, PathPattern, Protocol, Route, Routing};
use channels_runtime::testing::WebsocketCommunicator;
use channels_runtime::{Group, HttpResponse, Message, Result, Server, ServerConfig, ServerHandle};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the client waits for more bytes before dropping the socket, when it did not half-close.
const IDLE: Duration = Duration::from_millis(25);
/// How long the client waits for the server to close after a half-close.
const AFTER_EOF: Duration = Duration::from_secs(2);
/// Bytes read per input before the client stops reading.
const READ_CAP: usize = 1 << 20;
/// How often the server's health is checked.
const CHECK_EVERY: usize = 256;
/// How long a health check waits for open connections to close.
const DRAIN: Duration = Duration::from_secs(10);

struct Fixture {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    handle: ServerHandle,
    inputs: AtomicUsize,
}

/// A text frame that is a JSON object goes back as a reply dict (an invalid one as its error's text);
/// any other text or bytes is echoed.
async fn answer(message: &Message, group: Option<&str>) -> Result<()> {
    let reply = &message.reply_channel;
    if let Some(bytes) = message.bytes() {
        return reply.send_bytes(bytes.clone()).await;
    }
    let Some(text) = message.text() else {
        return Ok(());
    };
    let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(text) else {
        return reply.send_text(text.to_owned()).await;
    };
    let sent = match group {
        Some(group) => Group::new(group)?.send(value).await,
        None => reply.send(value).await,
    };
    match sent {
        Err(channels_runtime::Error::InvalidMessage(why)) => reply.send_text(why).await,
        other => other,
    }
}

fn accept() -> Consumer {
    Consumer::from_async("accept", |m: Message| async move {
        m.reply_channel.accept().await
    })
}

fn echo() -> Consumer {
    Consumer::from_async("echo", |m: Message| async move { answer(&m, None).await })
}

fn routing() -> Routing {
    let websocket = Routing::url_router()
        .route(Route::to("websocket.connect", None, accept()).at(PathPattern::path("echo/")))
        .route(Route::to("websocket.receive", None, echo()).at(PathPattern::path("echo/")))
        .route(
            Route::new("websocket.connect", None, "item", |p: &PathParams| {
                let _id: u32 = p.parse("id")?;
                Some(accept())
            })
            .at(PathPattern::path("items/<int:id>/")),
        )
        .route(
            Route::new("websocket.receive", None, "item", |p: &PathParams| {
                let id: u32 = p.parse("id")?;
                Some(Consumer::from_async("item", move |m: Message| async move {
                    m.reply_channel.send_json(&id).await?;
                    answer(&m, None).await
                }))
            })
            .at(PathPattern::path("items/<int:id>/")),
        )
        .route(
            Route::new("websocket.connect", None, "small", |p: &PathParams| {
                let n: u8 = p.parse("n")?;
                Some(Consumer::from_async(
                    "small",
                    move |m: Message| async move {
                        // Even: accept, then close with 4000 + n. Odd: close before accepting (403).
                        if n % 2 == 0 {
                            m.reply_channel.accept().await?;
                        }
                        m.reply_channel.close_with(4000 + u16::from(n)).await
                    },
                ))
            })
            .at(PathPattern::re_path(r"^small/(?P<n>[0-9]+)/$")),
        )
        .route(
            Route::to("websocket.connect", None, accept())
                .at(PathPattern::path("rooms/<str:room>/"))
                .with_groups(["room.{room}"]),
        )
        .route(
            Route::new("websocket.receive", None, "room", |p: &PathParams| {
                let room: String = p.parse("room")?;
                let group = format!("room.{room}");
                Some(Consumer::from_async("room", move |m: Message| {
                    let group = group.clone();
                    async move { answer(&m, Some(&group)).await }
                }))
            })
            .at(PathPattern::path("rooms/<str:room>/")),
        )
        .route(
            Route::to(
                "websocket.connect",
                None,
                Consumer::from_async("reject", |m: Message| async move {
                    m.reply_channel.reject().await
                }),
            )
            .at(PathPattern::path("reject/")),
        )
        .route(Route::to(
            "websocket.disconnect",
            None,
            Consumer::from_async("disconnect", |_m: Message| async {}),
        ));
    // A JSON body is the reply dict; anything else gets the path back.
    let http = Routing::new().route(Route::to(
        "http.request",
        Some("/"),
        Consumer::from_async("http", |m: Message| async move {
            let value = m
                .bytes()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok());
            match value {
                Some(value) => match m.reply_channel.send(value).await {
                    Err(channels_runtime::Error::InvalidMessage(why)) => {
                        m.reply_channel.respond(HttpResponse::new(400, why)).await
                    }
                    other => other,
                },
                None => {
                    m.reply_channel
                        .respond(HttpResponse::text(m.path().to_owned()))
                        .await
                }
            }
        }),
    ));
    Routing::new()
        .protocol(Protocol::WebSocket, websocket)
        .protocol(Protocol::Http, http)
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ServerConfig::default()
        .connect_timeout(Duration::from_secs(2))
        .close_timeout(Duration::from_secs(1))
        .http_timeout(Duration::from_secs(2));
    let handle = rt
        .block_on(
            Server::new(routing())
                .with_config(config)
                .spawn("127.0.0.1:0"),
        )
        .expect("server starts");
    Fixture {
        rt,
        addr: handle.local_addr(),
        handle,
        inputs: AtomicUsize::new(0),
    }
});

/// One input: one connection.
async fn exchange(addr: SocketAddr, half_close: bool, bytes: &[u8]) {
    let mut socket = TcpStream::connect(addr)
        .await
        .expect("the server stopped accepting connections");
    // The server may answer and close before reading everything: a failed write is fine.
    if socket.write_all(bytes).await.is_ok() && half_close {
        let _ = socket.shutdown().await;
    }
    let wait = if half_close { AFTER_EOF } else { IDLE };
    let mut buf = vec![0u8; 16 << 10];
    let mut total = 0;
    while total < READ_CAP {
        match tokio::time::timeout(wait, socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => total += n,
        }
    }
}

/// The server still serves: a valid handshake echoes, and once every client has gone, every
/// connection has closed.
async fn health(fixture: &Fixture) {
    let mut ws = WebsocketCommunicator::connect_to(fixture.addr, "/echo/")
        .await
        .unwrap_or_else(|e| panic!("a valid handshake failed: {e}"));
    ws.send_text("ping").await.expect("send");
    assert_eq!(ws.receive_text().await.expect("echo"), "ping");
    ws.disconnect().await.expect("disconnect");
    if tokio::time::timeout(DRAIN, fixture.handle.wait_for_connections(0))
        .await
        .is_err()
    {
        panic!(
            "{} WebSocket connections still open {DRAIN:?} after their clients left",
            fixture.handle.connections()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let n = fixture.inputs.fetch_add(1, Ordering::Relaxed);
    fixture.rt.block_on(async {
        exchange(fixture.addr, flags & 1 == 1, bytes).await;
        if n % CHECK_EVERY == 0 {
            health(fixture).await;
        }
    });
});
