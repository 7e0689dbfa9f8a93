//! Channels' `channel_session`, keyed by reply channel and kept in the channel layer: a worker consumer of
//! a custom channel reads and writes the session of the connection whose `reply_channel` it got (in this
//! process, and in another process on Redis), the connection's next consumer sees what it set, the
//! session expires with the layer's `session_expiry`, and it is deleted when the connection ends. Also
//! cookies and the query string, visible from the connect consumer.

use std::time::Duration;

use channels::layer::ChannelLayer;
use channels::prelude::*;
use channels::testing::{TestServer, WebsocketCommunicator};

use crate::common::{GUARD, connect, next_text, send_text, start};

/// The custom channel of the worker that serves a connection's session.
const JOBS: &str = "jobs.session";

/// Connect: `room` (from the query string) and the `theme` cookie go into the session; accepts.
async fn ws_connect(message: Message) -> Result<()> {
    let session = message.channel_session();
    session.set(
        "room",
        json!(message.content.query("room").unwrap_or("none")),
    );
    if let Some(theme) = message.content.cookie("theme") {
        session.set("theme", json!(theme));
    }
    message.reply_channel.accept().await
}

/// Receive: `job` and `sync` go to the worker with the reply channel; `show` answers the session as
/// JSON; `name` answers the reply channel's name; `drop:<key>` removes a key.
async fn ws_receive(message: Message) -> Result<()> {
    let text = message.text().unwrap_or_default().to_owned();
    let reply = message.reply_channel.name().unwrap_or_default().to_owned();
    match text.as_str() {
        "job" | "sync" => {
            Channel::new(JOBS)?
                .send(json!({"step": text, "reply_channel": reply}))
                .await
        }
        "show" => {
            let shown = serde_json::Value::Object(message.channel_session().to_map()).to_string();
            message.reply_channel.send_text(shown).await
        }
        "name" => message.reply_channel.send_text(reply).await,
        // Set, save now, then hand off in the same run: the worker sees the value.
        "handoff" => {
            message.channel_session().set("handoff", json!("yes"));
            message.channel_session().save().await?;
            Channel::new(JOBS)?
                .send(json!({"step": "check", "reply_channel": reply}))
                .await
        }
        other => {
            if let Some(key) = other.strip_prefix("drop:") {
                message.channel_session().remove(key);
            }
            message.reply_channel.send_text("ok").await
        }
    }
}

/// The worker: `job` reads the connection's room and writes `seen_by_worker`; `sync` only answers (it
/// runs after the `job` before it was saved: one message at a time per channel, the save included).
async fn worker(message: Message) -> Result<()> {
    let session = message.channel_session();
    if message["step"] == "job" {
        let room = session.get_str("room").unwrap_or_else(|| "?".into());
        session.set("seen_by_worker", json!(format!("worker in {room}")));
        message
            .reply_channel
            .send_text(format!("worker saw {room}"))
            .await
    } else if message["step"] == "check" {
        let handoff = session
            .get_str("handoff")
            .unwrap_or_else(|| "missing".into());
        message
            .reply_channel
            .send_text(format!("worker sees handoff={handoff}"))
            .await
    } else {
        message.reply_channel.send_text("synced").await
    }
}

fn websocket_routes() -> Routing {
    Routing::new()
        .route(Route::to(
            "websocket.connect",
            None,
            Consumer::from_async("ws_connect", ws_connect),
        ))
        .route(Route::to(
            "websocket.receive",
            None,
            Consumer::from_async("ws_receive", ws_receive),
        ))
}

fn worker_routes() -> Routing {
    Routing::new().route(Route::to(
        JOBS,
        None,
        Consumer::from_async("worker", worker),
    ))
}

fn routing() -> Routing {
    websocket_routes().include(None, worker_routes())
}

/// The session the connection's consumer shows.
async fn shown(ws: &mut WebsocketCommunicator) -> serde_json::Value {
    send_text(ws, "show").await;
    serde_json::from_str(&next_text(ws).await).expect("the session as JSON")
}

/// A client of `addr` in room "lobby" with the cookie `theme=dark`, accepted.
async fn lobby_client(addr: std::net::SocketAddr) -> WebsocketCommunicator {
    WebsocketCommunicator::build_to(addr, "/?room=lobby")
        .cookie("theme", "dark")
        .connect()
        .await
        .expect("accepted")
}

/// The worker round trip: it sees the room set at connect, and what it sets is seen by the connection's
/// next consumer.
async fn worker_round_trip(ws: &mut WebsocketCommunicator) {
    send_text(ws, "job").await;
    assert_eq!(next_text(ws).await, "worker saw lobby");
    send_text(ws, "sync").await;
    assert_eq!(next_text(ws).await, "synced");
    assert_eq!(
        shown(ws).await,
        json!({"room": "lobby", "theme": "dark", "seen_by_worker": "worker in lobby"})
    );
}

#[tokio::test]
async fn a_worker_reads_and_writes_the_session_of_the_connection_it_serves() {
    let (server, layer) = start(routing()).await;
    let mut ws = lobby_client(server.local_addr()).await;
    worker_round_trip(&mut ws).await;
    // The layer holds what the consumers see, under the reply channel's name.
    send_text(&mut ws, "name").await;
    let name = next_text(&mut ws).await;
    let stored = layer
        .session_load(&name)
        .await
        .expect("loads")
        .expect("a session");
    assert_eq!(stored["seen_by_worker"], "worker in lobby");
    // A connection's change is written back too.
    send_text(&mut ws, "drop:theme").await;
    assert_eq!(next_text(&mut ws).await, "ok");
    let stored = layer
        .session_load(&name)
        .await
        .expect("loads")
        .expect("a session");
    assert!(!stored.contains_key("theme"), "{stored:?}");
    // `Session::save` writes before the consumer returns: a worker handed off in the same run sees it.
    send_text(&mut ws, "handoff").await;
    assert_eq!(next_text(&mut ws).await, "worker sees handoff=yes");
    // Another connection has a session of its own.
    let mut other = connect(server.local_addr(), "/?room=hall").await;
    assert_eq!(shown(&mut other).await, json!({"room": "hall"}));
}

#[tokio::test]
async fn the_session_is_deleted_when_the_connection_ends() {
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
    let on_disconnect = Consumer::from_async("ws_disconnect", move |message: Message| {
        let seen_tx = seen_tx.clone();
        async move {
            // The disconnect consumer still sees the session.
            let _ = seen_tx.send(message.channel_session().get_str("room"));
            Ok::<(), Error>(())
        }
    });
    let routing = routing().route(Route::to("websocket.disconnect", None, on_disconnect));
    let (server, layer) = start(routing).await;
    let mut ws = connect(server.local_addr(), "/?room=lobby").await;
    send_text(&mut ws, "name").await;
    let name = next_text(&mut ws).await;
    assert!(layer.session_load(&name).await.expect("loads").is_some());
    ws.disconnect().await.expect("closes");
    let room = tokio::time::timeout(GUARD, seen.recv())
        .await
        .expect("the disconnect consumer ran");
    assert_eq!(room, Some(Some("lobby".to_owned())));
    // The delete follows the disconnect consumer, before the connection stops counting.
    tokio::time::timeout(GUARD, server.wait_for_connections(0))
        .await
        .expect("the connection ended");
    assert_eq!(layer.session_load(&name).await.expect("loads"), None);
}

#[tokio::test(start_paused = true)]
async fn a_session_expires_with_the_layers_session_expiry() {
    // In process, under the paused clock: a day passes at once. No pings meanwhile.
    let config = ServerConfig::default().ping_interval(None);
    let server = TestServer::in_process_with(routing(), config)
        .await
        .expect("starts");
    let mut ws = WebsocketCommunicator::connect(&server, "/?room=lobby")
        .await
        .expect("accepted");
    assert_eq!(shown(&mut ws).await, json!({"room": "lobby"}));
    send_text(&mut ws, "name").await;
    let name = next_text(&mut ws).await;
    let expiry = server.layer().config().session_expiry;
    assert_eq!(expiry, Duration::from_secs(86_400));
    tokio::time::advance(expiry - Duration::from_secs(1)).await;
    assert_eq!(shown(&mut ws).await, json!({"room": "lobby"}));
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        server.layer().session_load(&name).await.expect("loads"),
        None
    );
    // The connection's next consumer reloads it: gone.
    assert_eq!(shown(&mut ws).await, json!({}));
}

#[cfg(feature = "redis")]
mod redis {
    use std::sync::Arc;

    use channels::layer::LayerConfig;
    use channels::prelude::*;
    use channels::testing::WebsocketCommunicator;

    use super::{lobby_client, websocket_routes, worker_round_trip, worker_routes};
    use crate::redis_support::{OwnRedis, process};

    /// Two processes on one Redis: the server's holds the connection, the worker's (a layer of its own,
    /// so another process id) serves `jobs.session`, and each sees the other's writes.
    #[tokio::test]
    async fn a_worker_in_another_process_shares_the_session_on_redis() {
        let redis = OwnRedis::launch().await;
        let server_layer = process(&redis, LayerConfig::default()).await;
        let worker_layer = process(&redis, LayerConfig::default()).await;
        assert_ne!(server_layer.process_id(), worker_layer.process_id());
        let server = Server::new(websocket_routes())
            .with_layer(Arc::new(server_layer))
            .spawn("127.0.0.1:0")
            .await
            .expect("server starts");
        let worker = tokio::spawn(
            Worker::new(worker_routes())
                .with_layer(Arc::new(worker_layer))
                .run(),
        );
        let mut ws = lobby_client(server.local_addr()).await;
        worker_round_trip(&mut ws).await;
        // The session is a key of its own in Redis, with a TTL.
        crate::common::send_text(&mut ws, "name").await;
        let name = crate::common::next_text(&mut ws).await;
        let key = format!("asgi:session:{name}");
        let ttl: i64 = redis
            .cli(&["TTL", &key])
            .expect("redis-cli runs")
            .parse()
            .expect("a number");
        assert!(ttl > 0 && ttl <= 86_400, "TTL {ttl}");
        worker.abort();
    }

    /// The number of `GET`s the test's Redis has answered.
    fn gets(redis: &OwnRedis) -> u64 {
        let stats = redis
            .cli(&["INFO", "commandstats"])
            .expect("redis-cli runs");
        stats
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_get:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse().expect("a count"))
    }

    /// A connection whose reply channel's name never left its process keeps its session in the process:
    /// no Redis round trip per consumer run; once the name went out in a message, each run reloads it.
    #[tokio::test]
    async fn a_connection_reloads_only_once_its_name_went_out() {
        let redis = OwnRedis::launch().await;
        let server = Server::new(super::routing())
            .with_layer(Arc::new(process(&redis, LayerConfig::default()).await))
            .spawn("127.0.0.1:0")
            .await
            .expect("server starts");
        let mut ws = lobby_client(server.local_addr()).await;
        let before = gets(&redis);
        for _ in 0..5 {
            assert_eq!(
                super::shown(&mut ws).await,
                json!({"room": "lobby", "theme": "dark"})
            );
        }
        assert_eq!(gets(&redis), before, "no GET while the name stayed here");
        // The hand-off to the worker (this server runs it) sends the name out: from then on, reloads.
        super::worker_round_trip(&mut ws).await;
        let before = gets(&redis);
        super::shown(&mut ws).await;
        assert!(gets(&redis) > before, "a GET before the consumer");
    }

    /// A Rust-only app's web sessions on Redis: one process (its login view) creates the session, another
    /// process's handshake finds it by the cookie.
    #[tokio::test]
    async fn a_web_session_made_in_one_process_is_read_in_another() {
        use channels::auth::HttpSessionMiddleware;
        use channels::session::LayerSessionStore;

        let redis = OwnRedis::launch().await;
        let login: Arc<dyn channels::layer::ChannelLayer> =
            Arc::new(process(&redis, LayerConfig::default()).await);
        let key = LayerSessionStore::new(login)
            .create(
                json!({"user": "alice"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            )
            .await
            .expect("stored");
        let layer: Arc<dyn channels::layer::ChannelLayer> =
            Arc::new(process(&redis, LayerConfig::default()).await);
        let show = Consumer::from_async("show", |m: Message| async move {
            m.reply_channel.accept().await?;
            let user = m
                .http_session()
                .and_then(|s| s.get_str("user"))
                .unwrap_or("none");
            m.reply_channel.send_text(user.to_owned()).await
        });
        let routing = Routing::new()
            .with_middleware(HttpSessionMiddleware::new(LayerSessionStore::new(
                layer.clone(),
            )))
            .route(Route::to("websocket.connect", None, show));
        let server = Server::new(routing)
            .with_layer(layer)
            .spawn("127.0.0.1:0")
            .await
            .expect("server starts");
        let mut ws = WebsocketCommunicator::build_to(server.local_addr(), "/")
            .cookie("sessionid", &key)
            .connect()
            .await
            .expect("accepted");
        assert_eq!(crate::common::next_text(&mut ws).await, "alice");
        let mut anonymous = WebsocketCommunicator::build_to(server.local_addr(), "/")
            .cookie("sessionid", "0123")
            .connect()
            .await
            .expect("accepted");
        assert_eq!(crate::common::next_text(&mut anonymous).await, "none");
    }
}
