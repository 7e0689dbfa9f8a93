//! Unit tests of the route table: Channels 1.x and 2+ matching, protocols, fields, binding once.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::Message;
use crate::message::MessageBuilder;
use crate::routing::PathPattern;
use serde_json::json;

fn named(name: &'static str) -> Consumer {
    Consumer::from_async(name, |_m: Message| async {})
}

fn with_u32(name: &'static str) -> impl Fn(&PathParams) -> Option<Consumer> + Send + Sync {
    move |params: &PathParams| {
        let _n: u32 = params.parse("n")?;
        Some(named(name))
    }
}

#[test]
fn first_match_wins_and_patterns_anchor_at_start() {
    let routing = Routing::new()
        .route(Route::to("websocket.receive", Some(r"/a/"), named("a")))
        .route(Route::to("websocket.receive", Some(r"^/"), named("any")))
        .route(Route::to("websocket.receive", None, named("never")));
    assert_eq!(
        routing.resolve("websocket.receive", "/a/b").unwrap().name(),
        "a"
    );
    assert_eq!(
        routing
            .resolve("websocket.receive", "/x/a/")
            .unwrap()
            .name(),
        "any"
    );
    assert!(routing.resolve("websocket.connect", "/a/").is_none());
}

#[test]
fn unparsable_capture_falls_through() {
    let routing = Routing::new()
        .route(Route::new(
            "websocket.receive",
            Some(r"/(?P<n>\w+)/"),
            "num",
            with_u32("num"),
        ))
        .route(Route::to(
            "websocket.receive",
            Some(r"/"),
            named("fallback"),
        ));
    assert_eq!(
        routing.resolve("websocket.receive", "/12/").unwrap().name(),
        "num"
    );
    assert_eq!(
        routing.resolve("websocket.receive", "/ab/").unwrap().name(),
        "fallback"
    );
    assert_eq!(
        routing
            .resolve("websocket.receive", "/99999999999/")
            .unwrap()
            .name(),
        "fallback"
    );
}

#[test]
fn include_strips_prefix_and_inner_captures_win() {
    let inner = Routing::new().route(Route::new(
        "websocket.receive",
        Some(r"^/(?P<n>\d+)/$"),
        "inner",
        with_u32("inner"),
    ));
    let routing = Routing::new().include(Some(r"^/admin/(?P<n>[a-z]+)"), inner);
    let found = routing
        .find_route(
            "websocket.receive",
            "/admin/x/5/",
            &mut BoundRoutes::default(),
        )
        .unwrap();
    assert_eq!(found.params.get("n"), Some("5"));
    assert!(routing.resolve("websocket.receive", "/other/5/").is_none());
}

#[test]
fn a_route_is_bound_once_for_all_the_events_it_wins() {
    static BINDS: AtomicUsize = AtomicUsize::new(0);
    let routing = Routing::new()
        .route(Route::new(
            "websocket.connect",
            Some(r"^/(?P<n>\d+)/$"),
            "connect",
            with_u32("connect"),
        ))
        .route(Route::class(Some(r"^/(?P<n>\w+)/$"), "class", |params| {
            let _n: u32 = params.parse("n")?;
            BINDS.fetch_add(1, Ordering::SeqCst);
            Some(named("class"))
        }));
    let mut bound = BoundRoutes::default();
    let events = [
        "websocket.connect",
        "websocket.receive",
        "websocket.disconnect",
    ];
    let found: Vec<_> = events
        .iter()
        .map(|event| routing.find_route(event, "/7/", &mut bound).unwrap())
        .collect();
    assert_eq!(found[0].consumer.name(), "connect");
    assert_eq!(found[1].consumer.name(), "class");
    assert_eq!(found[2].consumer.name(), "class");
    assert_eq!(BINDS.load(Ordering::SeqCst), 1);
    // A path whose capture doesn't parse: tried once per lookup, bound never, no route.
    let mut bound = BoundRoutes::default();
    assert!(
        routing
            .find_route("websocket.receive", "/x/", &mut bound)
            .is_none()
    );
    assert!(
        routing
            .find_route("websocket.disconnect", "/x/", &mut bound)
            .is_none()
    );
    assert_eq!(BINDS.load(Ordering::SeqCst), 1);
}

#[test]
fn runtime_errors_are_collected() {
    let routing = Routing::new()
        .route(Route::to(
            "websocket.receive",
            Some(r"(unclosed"),
            named("x"),
        ))
        .route(Route::to("bad name", None, named("y")));
    assert_eq!(routing.errors().len(), 2);
}

#[test]
fn custom_channels_are_listed() {
    let routing = Routing::new()
        .route(Route::to("websocket.receive", None, named("x")))
        .route(Route::to("thumbnails.generate", None, named("t")))
        .include(
            None,
            Routing::new().route(Route::to("mail.send", None, named("m"))),
        );
    let channels = routing.custom_channels();
    assert_eq!(channels.len(), 2);
}

fn class(name: &'static str) -> Route {
    Route::class(None, name, move |_| Some(named(name)))
}

#[test]
fn url_router_strips_the_leading_slash_and_follows_django() {
    let routing = Routing::url_router()
        .route(class("chat").at(PathPattern::re_path(r"ws/chat/(?P<room_name>\w+)/$")))
        .route(class("notify").at(PathPattern::path("ws/notification/")))
        .mount(
            PathPattern::re_path(r"^ws/(?P<slug>[-\w_]+)/"),
            Routing::url_router().route(class("team").at(PathPattern::path("<int:id>/"))),
        );
    let name = |path: &str| routing.resolve("websocket.connect", path).map(|c| c.name());
    assert_eq!(name("/ws/chat/lobby/"), Some("chat"));
    assert_eq!(name("//ws/chat/lobby/"), Some("chat"));
    assert_eq!(name("/ws/chat/lobby/x"), None);
    assert_eq!(name("/ws/notification/"), Some("notify"));
    assert_eq!(name("/ws/notification/x"), None);
    assert_eq!(name("/ws/my-team/7/"), Some("team"));
    assert_eq!(name("/ws/my-team/x/"), None);
    assert_eq!(name("/x/ws/my-team/7/"), None);
    let mut bound = BoundRoutes::default();
    let found = routing
        .find_route("websocket.connect", "/ws/my-team/7/", &mut bound)
        .unwrap();
    assert_eq!(found.params.get("slug"), Some("my-team"));
    assert_eq!(found.params.get("id"), Some("7"));
}

#[test]
fn protocols_split_events() {
    let routing = Routing::new()
        .protocol(
            Protocol::WebSocket,
            Routing::url_router().route(class("ws").at(PathPattern::path("ws/"))),
        )
        .protocol(
            Protocol::Http,
            Routing::url_router()
                .route(Route::to("http.request", None, named("index")).at(PathPattern::path(""))),
        )
        .protocol(
            Protocol::Channel,
            Routing::new().route(Route::to("thumbnails-generate", None, named("thumbs"))),
        );
    assert_eq!(
        routing.resolve("websocket.connect", "/ws/").unwrap().name(),
        "ws"
    );
    assert!(routing.resolve("websocket.connect", "/").is_none());
    assert_eq!(
        routing.resolve("http.request", "/").unwrap().name(),
        "index"
    );
    assert!(routing.resolve("http.request", "/ws/").is_none());
    assert_eq!(
        routing.resolve("thumbnails-generate", "").unwrap().name(),
        "thumbs"
    );
    assert_eq!(routing.custom_channels().len(), 1);
}

#[test]
fn a_pathless_class_route_does_not_take_custom_channels() {
    let routing =
        Routing::new()
            .route(class("chat"))
            .route(Route::to("jobs.run", None, named("jobs")));
    assert_eq!(routing.resolve("jobs.run", "").unwrap().name(), "jobs");
    assert_eq!(
        routing.resolve("websocket.receive", "/").unwrap().name(),
        "chat"
    );
}

fn message_with(channel: &'static str, payload: serde_json::Value) -> Message {
    let serde_json::Value::Object(map) = payload else {
        panic!("an object")
    };
    MessageBuilder::new(channel, Arc::default())
        .payload(Arc::new(map))
        .build(crate::ReplyChannel::none())
}

#[test]
fn field_patterns_are_decided_per_message() {
    static RAN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    fn recording(name: &'static str) -> impl Fn(&PathParams) -> Option<Consumer> + Send + Sync {
        move |params: &PathParams| {
            let room = params.get("room").unwrap_or_default().to_owned();
            Some(Consumer::from_sync(name, move |_m: Message| {
                RAN.lock().unwrap().push(format!("{name} {room}"));
            }))
        }
    }
    let routing = Routing::new()
        .route(
            Route::new("chat.receive", None, "join", recording("join"))
                .with_field("command", r"^join (?P<room>\w+)$"),
        )
        .route(
            Route::new("chat.receive", None, "leave", recording("leave"))
                .with_field("command", r"^leave$"),
        )
        .route(Route::new(
            "chat.receive",
            None,
            "other",
            recording("other"),
        ));
    let consumer = routing.resolve("chat.receive", "").unwrap();
    for command in [
        json!("join lobby"),
        json!("leave"),
        json!("dance"),
        json!(7),
    ] {
        match consumer.invoke(message_with("chat.receive", json!({"command": command}))) {
            Invocation::Blocking(run) => run().unwrap(),
            Invocation::Async(_) => panic!("sync consumers"),
        }
    }
    assert_eq!(
        *RAN.lock().unwrap(),
        ["join lobby", "leave ", "other ", "other "]
    );
}

#[test]
fn path_route_errors_are_collected() {
    let routing = Routing::url_router()
        .route(class("x").at(PathPattern::path("ws/<nope:id>/")))
        .route(class("y").with_field("command", "("));
    assert_eq!(routing.errors().len(), 2);
}

#[test]
fn a_tables_error_mode_reaches_its_routes_and_an_inner_tables_wins() {
    use super::super::consumer::ErrorMode;
    let plain = || Consumer::from_async("plain", |_m: Message| async {});
    let inner = Routing::new()
        .with_error_mode(ErrorMode::Close)
        .route(Route::to("websocket.receive", Some("^/close/"), plain()));
    let routing = Routing::new()
        .with_error_mode(ErrorMode::KeepOpen)
        .include(Some("^/inner"), inner)
        .route(Route::to(
            "websocket.receive",
            Some("^/own/"),
            plain().with_error_mode(ErrorMode::Close),
        ))
        .route(Route::to("websocket.receive", None, plain()));
    let mode = |path| {
        routing
            .resolve("websocket.receive", path)
            .map(|c| c.error_mode())
    };
    assert_eq!(mode("/anything/"), Some(ErrorMode::KeepOpen));
    assert_eq!(mode("/own/"), Some(ErrorMode::Close));
    assert_eq!(mode("/inner/close/"), Some(ErrorMode::Close));
}
