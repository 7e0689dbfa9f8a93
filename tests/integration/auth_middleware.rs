//! Middleware (Channels' `AuthMiddlewareStack` and friends) over real sockets: a refusal answers the
//! handshake (or the HTTP request) with its status and no consumer runs; a user attached by middleware
//! reaches connect, receive and disconnect; middleware of tables and routes stack in order; the web
//! session from the handshake's cookie (`http_session`); cookies and the query string in connect.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use channels::auth::{self, HttpSessionMiddleware, Middleware, Refusal};
use channels::prelude::*;
use channels::routing::PathPattern;
use channels::session::{HttpSessionStore, MemorySessionStore, SessionStoreError};
use channels::testing::{HttpCommunicator, TestServer, WebsocketCommunicator};
use serde_json::{Map, Value};

use crate::common::{GUARD, connect, next_text, refused_status, send_text, start};

#[derive(Debug, Clone, PartialEq)]
struct User {
    name: String,
}

/// Attaches the user named by the `user` cookie; refuses without one (`status` is the refusal's).
fn cookie_user(status: u16) -> impl Middleware {
    auth::from_fn("cookie_user", move |scope| match scope.cookie("user") {
        Some(name) if !name.is_empty() => {
            scope.set_user(User {
                name: name.to_owned(),
            });
            Ok(())
        }
        _ => Err(Refusal::new(status, "no user cookie")),
    })
}

/// Consumers that count their runs and answer with the user's name.
#[derive(Debug, Default)]
struct Runs {
    connect: AtomicUsize,
    receive: AtomicUsize,
    disconnect: AtomicUsize,
    http: AtomicUsize,
}

fn user_name(message: &Message) -> String {
    message
        .user::<User>()
        .map_or_else(|| "nobody".to_owned(), |u| u.name.clone())
}

fn counted_routes(runs: &Arc<Runs>, left: tokio::sync::mpsc::UnboundedSender<String>) -> Routing {
    let (c, r, d, h) = (runs.clone(), runs.clone(), runs.clone(), runs.clone());
    Routing::new()
        .route(Route::to(
            "websocket.connect",
            None,
            Consumer::from_async("connect", move |m: Message| {
                let runs = c.clone();
                async move {
                    runs.connect.fetch_add(1, Ordering::SeqCst);
                    m.reply_channel.accept().await?;
                    m.reply_channel
                        .send_text(format!("connect {}", user_name(&m)))
                        .await
                }
            }),
        ))
        .route(Route::to(
            "websocket.receive",
            None,
            Consumer::from_async("receive", move |m: Message| {
                let runs = r.clone();
                async move {
                    runs.receive.fetch_add(1, Ordering::SeqCst);
                    m.reply_channel
                        .send_text(format!("receive {}", user_name(&m)))
                        .await
                }
            }),
        ))
        .route(Route::to(
            "websocket.disconnect",
            None,
            Consumer::from_async("disconnect", move |m: Message| {
                let runs = d.clone();
                let left = left.clone();
                async move {
                    runs.disconnect.fetch_add(1, Ordering::SeqCst);
                    let _ = left.send(format!("disconnect {}", user_name(&m)));
                    Ok::<(), Error>(())
                }
            }),
        ))
        .route(Route::to(
            "http.request",
            None,
            Consumer::from_async("http", move |m: Message| {
                let runs = h.clone();
                async move {
                    runs.http.fetch_add(1, Ordering::SeqCst);
                    m.reply_channel
                        .respond(HttpResponse::text(user_name(&m)))
                        .await
                }
            }),
        ))
}

#[tokio::test]
async fn a_refusal_answers_its_status_and_no_consumer_runs() {
    let runs = Arc::new(Runs::default());
    let (left, mut gone) = tokio::sync::mpsc::unbounded_channel();
    let guarded = counted_routes(&runs, left.clone()).with_middleware(cookie_user(403));
    let strict = counted_routes(&runs, left).with_middleware(cookie_user(401));
    let routing = Routing::new()
        .include(Some("^/strict/"), strict)
        .include(None, guarded);
    let (server, _) = start(routing).await;
    let addr = server.local_addr();
    assert_eq!(refused_status(addr, "/room/").await, 403);
    assert_eq!(refused_status(addr, "/strict/room/").await, 401);
    let refused = WebsocketCommunicator::build_to(addr, "/room/")
        .cookie("user", "")
        .connect()
        .await;
    assert!(refused.is_err(), "an empty user cookie is refused");
    let response = HttpCommunicator::new_to(addr, "GET", "/page/")
        .get_response()
        .await
        .expect("an answer");
    assert_eq!(response.status, 403);
    // A connection that is let in runs its consumers, and its disconnect, which ends after the refusals:
    // had a refused one run a consumer or owed a disconnect, the counts would show it.
    let mut ws = WebsocketCommunicator::build_to(addr, "/room/")
        .cookie("user", "alice")
        .connect()
        .await
        .expect("accepted");
    assert_eq!(next_text(&mut ws).await, "connect alice");
    ws.disconnect().await.expect("closes");
    let seen = tokio::time::timeout(GUARD, gone.recv())
        .await
        .expect("disconnect ran");
    assert_eq!(seen.as_deref(), Some("disconnect alice"));
    tokio::time::timeout(GUARD, server.wait_for_connections(0))
        .await
        .expect("every connection ended");
    assert_eq!(runs.connect.load(Ordering::SeqCst), 1);
    assert_eq!(runs.disconnect.load(Ordering::SeqCst), 1);
    assert_eq!(runs.receive.load(Ordering::SeqCst), 0);
    assert_eq!(runs.http.load(Ordering::SeqCst), 0);
    assert!(gone.try_recv().is_err(), "no other disconnect ran");
}

#[tokio::test]
async fn the_user_reaches_connect_receive_disconnect_and_http() {
    let runs = Arc::new(Runs::default());
    let (left, mut gone) = tokio::sync::mpsc::unbounded_channel();
    let routing = counted_routes(&runs, left).with_middleware(cookie_user(403));
    let server = TestServer::start(routing).await.expect("starts");
    let mut ws = WebsocketCommunicator::build(&server, "/")
        .cookie("user", "bob")
        .connect()
        .await
        .expect("accepted");
    assert_eq!(next_text(&mut ws).await, "connect bob");
    send_text(&mut ws, "hi").await;
    assert_eq!(next_text(&mut ws).await, "receive bob");
    ws.disconnect().await.expect("closes");
    let seen = tokio::time::timeout(GUARD, gone.recv())
        .await
        .expect("disconnect ran");
    assert_eq!(seen.as_deref(), Some("disconnect bob"));
    let response = HttpCommunicator::new(&server, "GET", "/")
        .header("Cookie", "user=carol")
        .get_response()
        .await
        .expect("an answer");
    assert_eq!(
        (response.status, response.text()),
        (200, "carol".to_owned())
    );
}

/// Appends its name to the `Trail` user (what ran before it).
fn step(name: &'static str) -> impl Middleware {
    auth::from_fn(name, move |scope| {
        let mut trail = scope
            .user::<Vec<&'static str>>()
            .cloned()
            .unwrap_or_default();
        trail.push(name);
        scope.set_user(trail);
        Ok(())
    })
}

fn trail_consumer() -> Consumer {
    Consumer::from_async("trail", |m: Message| async move {
        m.reply_channel.accept().await?;
        let trail = m.user::<Vec<&'static str>>().cloned().unwrap_or_default();
        m.reply_channel.send_text(trail.join(",")).await
    })
}

#[tokio::test]
async fn tables_then_inner_tables_then_routes_each_in_order() {
    let inner = Routing::url_router()
        .with_middleware(step("inner"))
        .route(
            Route::to("websocket.connect", None, trail_consumer())
                .at(PathPattern::path("chat/<str:room>/"))
                .with_middleware(step("route1"))
                .with_middleware(step("route2")),
        )
        .route(
            Route::to("websocket.connect", None, trail_consumer()).at(PathPattern::path("plain/")),
        );
    let routing = Routing::url_router()
        .with_middleware(step("outer1"))
        .mount(PathPattern::path("ws/"), inner)
        .with_middleware(step("outer2"))
        .route(
            Route::to("websocket.connect", None, trail_consumer()).at(PathPattern::path("top/")),
        );
    let (server, _) = start(routing).await;
    let addr = server.local_addr();
    let mut ws = connect(addr, "/ws/chat/lobby/").await;
    assert_eq!(
        next_text(&mut ws).await,
        "outer1,outer2,inner,route1,route2"
    );
    let mut ws = connect(addr, "/ws/plain/").await;
    assert_eq!(next_text(&mut ws).await, "outer1,outer2,inner");
    let mut ws = connect(addr, "/top/").await;
    assert_eq!(next_text(&mut ws).await, "outer1,outer2");
}

#[tokio::test]
async fn a_later_middleware_is_not_run_after_a_refusal() {
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let after = auth::from_fn("after", move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let routing = Routing::new()
        .with_middleware(cookie_user(403))
        .with_middleware(after)
        .route(Route::to("websocket.connect", None, trail_consumer()));
    let (server, _) = start(routing).await;
    assert_eq!(refused_status(server.local_addr(), "/").await, 403);
    let mut ws = WebsocketCommunicator::build_to(server.local_addr(), "/")
        .cookie("user", "dave")
        .connect()
        .await
        .expect("accepted");
    assert_eq!(next_text(&mut ws).await, "");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "only the admitted connection ran it"
    );
}

#[tokio::test]
async fn cookies_and_query_are_visible_in_connect() {
    let show = Consumer::from_async("show", |m: Message| async move {
        m.reply_channel.accept().await?;
        let shown = json!({
            "cookies": m.content.cookies(),
            "sessionid": m.content.cookie("sessionid"),
            "query": m.content.query_pairs(),
            "token": m.content.query("token"),
        });
        m.reply_channel.send_text(shown.to_string()).await
    });
    let routing = Routing::new().route(Route::to("websocket.connect", None, show));
    let (server, _) = start(routing).await;
    let mut ws = WebsocketCommunicator::build_to(server.local_addr(), "/?token=a%2Bb&name=J+Doe")
        .cookie("sessionid", "k1")
        .header("Cookie", "theme=\"dark\"")
        .connect()
        .await
        .expect("accepted");
    let shown: Value = serde_json::from_str(&next_text(&mut ws).await).expect("JSON");
    assert_eq!(shown["sessionid"], "k1");
    assert_eq!(shown["token"], "a+b");
    assert_eq!(shown["query"], json!([["token", "a+b"], ["name", "J Doe"]]));
    let cookies = shown["cookies"].as_array().expect("a list");
    assert!(cookies.contains(&json!(["sessionid", "k1"])), "{cookies:?}");
    assert!(cookies.contains(&json!(["theme", "dark"])), "{cookies:?}");
}

/// A store whose backend is down.
#[derive(Debug)]
struct Down;

#[channels::layer::async_trait]
impl HttpSessionStore for Down {
    async fn load(&self, _: &str) -> Result<Option<Map<String, Value>>, SessionStoreError> {
        Err(SessionStoreError::unavailable(
            "read",
            std::io::Error::other("refused"),
        ))
    }
}

#[tokio::test]
async fn the_web_session_comes_from_the_session_cookie() {
    let store = MemorySessionStore::default();
    let key = store.create(
        json!({"_auth_user_id": "7"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let show = Consumer::from_async("show", |m: Message| async move {
        m.reply_channel.accept().await?;
        let user_id = m
            .http_session()
            .and_then(|s| s.get_str("_auth_user_id"))
            .unwrap_or("none");
        m.reply_channel.send_text(user_id.to_owned()).await
    });
    let routing = Routing::new()
        .include(
            Some("^/down/"),
            Routing::new()
                .with_middleware(HttpSessionMiddleware::new(Down))
                .route(Route::to("websocket.connect", None, show.clone())),
        )
        .with_middleware(HttpSessionMiddleware::new(store.clone()))
        .route(Route::to("websocket.connect", None, show));
    let (server, _) = start(routing).await;
    let addr = server.local_addr();
    let session_of = |cookie: Option<String>| async move {
        let mut request = WebsocketCommunicator::build_to(addr, "/");
        if let Some(value) = &cookie {
            request = request.cookie("sessionid", value);
        }
        let mut ws = request.connect().await.expect("accepted");
        next_text(&mut ws).await
    };
    assert_eq!(session_of(Some(key.clone())).await, "7");
    assert_eq!(session_of(Some("unknown".into())).await, "none");
    assert_eq!(session_of(None).await, "none");
    // A store that fails refuses with 503 (never "no session").
    let refused = WebsocketCommunicator::build_to(addr, "/down/")
        .cookie("sessionid", "k")
        .connect()
        .await;
    match refused {
        Err(channels::testing::TestError::Refused(status)) => assert_eq!(status, 503),
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    // Logged out: the next handshake has no session.
    store.remove(&key);
    assert_eq!(session_of(Some(key)).await, "none");
}

#[tokio::test]
async fn a_routes_middleware_guards_that_route_only() {
    let deny = || auth::from_fn("staff_only", |_| Err(Refusal::new(401, "staff only")));
    let routing = Routing::new()
        .route(
            Route::to("websocket.connect", Some("^/admin/"), trail_consumer())
                .with_middleware(deny()),
        )
        .route(Route::to(
            "websocket.connect",
            Some("^/public/"),
            trail_consumer(),
        ));
    let (server, _) = start(routing).await;
    assert_eq!(refused_status(server.local_addr(), "/admin/").await, 401);
    let mut ws = connect(server.local_addr(), "/public/").await;
    assert_eq!(next_text(&mut ws).await, "");
    // No route, no middleware: the path gets its 404.
    assert_eq!(refused_status(server.local_addr(), "/other/").await, 404);
}
