//! A routing table mounted in an axum `Router` (feature `axum`), served by `axum::serve` on a free port:
//! at a path (`route_service`, `nest_service`) and as the fallback, beside axum's own handlers, with the
//! app's state reaching consumers, workers running, limits applied and a clean shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use channels::axum::ChannelsService;
use channels::prelude::*;
use channels::testing::WebsocketCommunicator;

use crate::common::{
    GUARD, assert_shutdown_closes_with_1001, connect, hand_off_to_upper_worker, http_get,
    next_text, refused_status, send_text,
};

/// Serves `app` on 127.0.0.1 (with connect info) until the test's runtime ends; returns its address.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

/// The chat's table (every WebSocket path joins "chat", texts go to the group) as a service.
fn chat_service() -> ChannelsService {
    Server::new(crate::chat::channel_routing())
        .into_axum_service()
        .expect("valid routing")
}

/// A table whose WebSocket consumer answers every text with the path it was routed by.
fn path_echo() -> Routing {
    let receive = Consumer::from_async("path_echo", |m: Message| async move {
        let text = format!("{} {}", m.path(), m.text().unwrap_or_default());
        m.reply_channel.send_text(text).await
    });
    Routing::new().route(Route::to("websocket.receive", Some(r"^/echo/$"), receive))
}

#[tokio::test]
async fn as_the_fallback_the_table_serves_what_axums_routes_do_not() {
    let addr = serve(
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .fallback_service(chat_service()),
    )
    .await;
    assert_eq!(http_get(addr, "/health").await, (200, "ok".to_owned()));
    // The chat's `http.request` route answers `/`; the chat has no other HTTP route.
    let (status, page) = http_get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<title>channels chat</title>"), "{page}");
    assert_eq!(http_get(addr, "/nothing-here").await.0, 404);
    let mut a = connect(addr, "/chat/").await;
    let mut b = connect(addr, "/any/path/").await;
    send_text(&mut a, "hello").await;
    assert_eq!(next_text(&mut a).await, "[user] hello");
    assert_eq!(next_text(&mut b).await, "[user] hello");
}

#[tokio::test]
async fn two_clients_on_a_route_service_path_see_each_others_messages() {
    let channels = chat_service();
    let addr = serve(
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route_service("/ws/{*rest}", channels.clone()),
    )
    .await;
    let mut alice = connect(addr, "/ws/chat/").await;
    let mut bob = connect(addr, "/ws/chat/").await;
    assert_eq!(channels.connections(), 2);
    send_text(&mut alice, "hi bob").await;
    assert_eq!(next_text(&mut alice).await, "[user] hi bob");
    assert_eq!(next_text(&mut bob).await, "[user] hi bob");
    send_text(&mut bob, "hi alice").await;
    assert_eq!(next_text(&mut alice).await, "[user] hi alice");
    assert_eq!(next_text(&mut bob).await, "[user] hi alice");
    // Outside the mounted path, axum answers (404: the router has no fallback).
    assert_eq!(refused_status(addr, "/chat/").await, 404);
    // A client that leaves is disconnected from the group, as on the server's own port.
    drop(bob);
    tokio::time::timeout(GUARD, channels.wait_for_connections(1))
        .await
        .expect("bob's connection ends");
    send_text(&mut alice, "alone").await;
    assert_eq!(next_text(&mut alice).await, "[user] alone");
}

#[tokio::test]
async fn a_nested_table_matches_the_path_inside_its_mount() {
    let service = Server::new(path_echo()).into_axum_service().unwrap();
    let addr = serve(Router::new().nest_service("/ws", service)).await;
    let mut ws = connect(addr, "/ws/echo/").await;
    send_text(&mut ws, "hi").await;
    // axum strips the mount point: the table saw `/echo/`.
    assert_eq!(next_text(&mut ws).await, "/echo/ hi");
    // The table's own route, without the mount point, is not reachable.
    assert_eq!(refused_status(addr, "/echo/").await, 404);
    // Inside the mount, a path the table has no route for gets the table's 404.
    assert_eq!(refused_status(addr, "/ws/other/").await, 404);
}

/// The app's state: what consumers read, and a counter an axum handler reports.
#[derive(Clone)]
struct AppState {
    motd: &'static str,
    connects: Arc<AtomicU64>,
}

#[tokio::test]
async fn consumers_read_axums_state() {
    let connect_consumer = Consumer::from_async("welcome", |m: Message| async move {
        m.reply_channel.accept().await?;
        let Some(state) = m.state::<AppState>() else {
            return m.reply_channel.send_text("no AppState in the scope").await;
        };
        state.connects.fetch_add(1, Ordering::SeqCst);
        m.reply_channel.send_text(state.motd).await
    });
    let routing = Routing::new().route(Route::to("websocket.connect", None, connect_consumer));
    let state = AppState {
        motd: "welcome to the app",
        connects: Arc::default(),
    };
    let channels = Server::new(routing)
        .into_axum_service()
        .unwrap()
        .with_state(state.clone());
    let app = Router::new()
        .route(
            "/connects",
            get(|State(state): State<AppState>| async move {
                state.connects.load(Ordering::SeqCst).to_string()
            }),
        )
        .fallback_service(channels)
        .with_state(state);
    let addr = serve(app).await;
    let mut first = connect(addr, "/").await;
    assert_eq!(next_text(&mut first).await, "welcome to the app");
    let mut second = connect(addr, "/").await;
    assert_eq!(next_text(&mut second).await, "welcome to the app");
    // The consumers changed the very state axum's handler reads.
    assert_eq!(http_get(addr, "/connects").await, (200, "2".to_owned()));
}

#[tokio::test]
async fn without_state_a_consumer_finds_none() {
    let connect_consumer = Consumer::from_async("check", |m: Message| async move {
        m.reply_channel.accept().await?;
        let found = m.state::<AppState>().is_some();
        m.reply_channel.send_text(format!("state: {found}")).await
    });
    let routing = Routing::new().route(Route::to("websocket.connect", None, connect_consumer));
    let service = Server::new(routing).into_axum_service().unwrap();
    let addr = serve(Router::new().fallback_service(service)).await;
    let mut ws = connect(addr, "/").await;
    assert_eq!(next_text(&mut ws).await, "state: false");
}

#[tokio::test]
async fn a_custom_channels_worker_runs_inside_the_service() {
    let (receive, upper) = hand_off_to_upper_worker();
    let routing = Routing::new()
        .route(Route::to("websocket.receive", None, receive))
        .route(Route::to("jobs.upper", None, upper));
    let service = Server::new(routing).into_axum_service().unwrap();
    let addr = serve(Router::new().fallback_service(service)).await;
    let mut ws = connect(addr, "/").await;
    send_text(&mut ws, "shout").await;
    // Only the worker of `jobs.upper` writes upper case.
    assert_eq!(next_text(&mut ws).await, "SHOUT");
}

#[tokio::test]
async fn consumers_see_the_client_address_from_connect_info() {
    let connect_consumer = Consumer::from_async("whoami", |m: Message| async move {
        m.reply_channel.accept().await?;
        let client = m
            .content
            .client()
            .map(|c| c.to_string())
            .unwrap_or_default();
        m.reply_channel.send_text(client).await
    });
    let routing = Routing::new().route(Route::to("websocket.connect", None, connect_consumer));
    let service = Server::new(routing).into_axum_service().unwrap();
    let addr = serve(Router::new().fallback_service(service)).await;
    let mut ws = connect(addr, "/").await;
    let seen: SocketAddr = next_text(&mut ws).await.parse().expect("an address");
    assert_eq!(seen.ip(), addr.ip());
    assert_ne!(
        seen.port(),
        addr.port(),
        "the client's port, not the server's"
    );
}

#[tokio::test]
async fn the_servers_connection_cap_applies_under_axum() {
    let service = Server::new(crate::chat::channel_routing())
        .with_config(ServerConfig::default().max_connections(1))
        .into_axum_service()
        .unwrap();
    let addr = serve(Router::new().fallback_service(service)).await;
    let mut first = connect(addr, "/chat/").await;
    assert_eq!(refused_status(addr, "/chat/").await, 503);
    send_text(&mut first, "still here").await;
    assert_eq!(next_text(&mut first).await, "[user] still here");
}

#[tokio::test]
async fn the_layer_is_shared_with_code_outside_consumers() {
    let channels = chat_service();
    let layer = channels.layer();
    let addr = serve(
        Router::new()
            .route(
                "/announce",
                get(move || {
                    let layer = layer.clone();
                    async move {
                        let group = Group::new("chat").expect("valid name").with_layer(layer);
                        match group.send(json!({"text": "[admin] hello"})).await {
                            Ok(()) => "sent",
                            Err(_) => "failed",
                        }
                    }
                }),
            )
            .fallback_service(channels),
    )
    .await;
    let mut ws = connect(addr, "/chat/").await;
    assert_eq!(http_get(addr, "/announce").await, (200, "sent".to_owned()));
    assert_eq!(next_text(&mut ws).await, "[admin] hello");
}

#[tokio::test]
async fn shutdown_closes_the_sockets_with_1001_and_then_refuses() {
    let left = Arc::new(AtomicU64::new(0));
    let counted = left.clone();
    let disconnect = Consumer::from_async("left", move |_m: Message| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<(), Error>(())
        }
    });
    let routing = Routing::new().route(Route::to("websocket.disconnect", None, disconnect));
    let channels = Server::new(routing).into_axum_service().unwrap();
    let addr = serve(Router::new().fallback_service(channels.clone())).await;
    let mut ws = connect(addr, "/").await;
    assert_shutdown_closes_with_1001(&channels, &mut ws).await;
    assert_eq!(
        left.load(Ordering::SeqCst),
        1,
        "the disconnect consumer ran"
    );
    match WebsocketCommunicator::connect_to(addr, "/").await {
        Err(channels::testing::TestError::Refused(status)) => assert_eq!(status, 503),
        Err(other) => panic!("expected 503, got {other}"),
        Ok(_) => panic!("a shut-down service accepted a socket"),
    }
}

#[tokio::test]
async fn a_foreign_browser_origin_is_refused_as_on_the_servers_own_port() {
    let addr = serve(Router::new().fallback_service(chat_service())).await;
    // A page of the app itself (the same host) gets in; another site's page gets 403.
    let mut own = WebsocketCommunicator::build_to(addr, "/chat/")
        .same_origin()
        .connect()
        .await
        .expect("the app's own origin is accepted");
    match WebsocketCommunicator::build_to(addr, "/chat/")
        .origin("https://evil.example")
        .connect()
        .await
    {
        Err(channels::testing::TestError::Refused(status)) => assert_eq!(status, 403),
        Err(other) => panic!("expected 403, got {other}"),
        Ok(_) => panic!("a foreign origin was accepted"),
    }
    send_text(&mut own, "still chatting").await;
    assert_eq!(next_text(&mut own).await, "[user] still chatting");
}
