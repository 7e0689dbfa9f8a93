//! The router on arbitrary event names and paths: `Routing::resolve` over a fixed table with typed
//! captures (`u8`, `u32`, `String`; Channels 2+ `path("items/<int:id>/")` and `re_path`, a mounted router,
//! a Channels 1.x `include`, a custom channel), and over a table whose one pattern is itself arbitrary.
//!
//! The fixed table is checked against a model written here by hand (no regex): which route takes the
//! event, and what its capture parsed to. Paths come as bytes (made UTF-8 lossily, and percent-decoded
//! as the server does when the first flag says so).
//!
//! Run: `cargo +nightly fuzz run router -- -max_total_time=120` (from the repository root).
#![no_main]

use std::cell::RefCell;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use channels_runtime::Message;
use channels_runtime::routing::{Consumer, PathParams, PathPattern, Protocol, Route, Routing};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Event<'a> {
    Connect,
    Receive,
    Disconnect,
    Http,
    Thumbnails,
    Other(&'a str),
}

impl Event<'_> {
    fn name(&self) -> &str {
        match self {
            Event::Connect => "websocket.connect",
            Event::Receive => "websocket.receive",
            Event::Disconnect => "websocket.disconnect",
            Event::Http => "http.request",
            Event::Thumbnails => "thumbnails.generate",
            Event::Other(name) => name,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Syntax {
    Regex,
    RePath,
    Path,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    event: Event<'a>,
    percent_decode: bool,
    path: &'a [u8],
    /// A pattern of its own, in one of the three syntaxes, for a table of one route.
    pattern: Option<(Syntax, &'a str)>,
}

thread_local! {
    /// What the last binder that accepted its captures parsed: (consumer, value).
    static BOUND: RefCell<Option<(&'static str, String)>> = const { RefCell::new(None) };
}

fn noop(name: &'static str) -> Consumer {
    Consumer::from_async(name, |_m: Message| async {})
}

/// A binder that parses capture `capture` as `T`, records it, and binds consumer `name`.
fn typed<T: channels_runtime::routing::FromCapture + ToString>(
    name: &'static str,
    capture: &'static str,
) -> impl Fn(&PathParams) -> Option<Consumer> + Send + Sync + 'static {
    move |params: &PathParams| {
        let value: T = params.parse(capture)?;
        BOUND.with(|b| *b.borrow_mut() = Some((name, value.to_string())));
        Some(noop(name))
    }
}

static TABLE: LazyLock<Routing> = LazyLock::new(|| {
    let api = Routing::url_router().route(
        Route::new(
            "websocket.receive",
            None,
            "api_user",
            |params: &PathParams| {
                let uid: u32 = params.parse("uid")?;
                let version: String = params.parse("version")?;
                BOUND.with(|b| *b.borrow_mut() = Some(("api_user", format!("{version}:{uid}"))));
                Some(noop("api_user"))
            },
        )
        .at(PathPattern::path("users/<int:uid>/")),
    );
    let websocket = Routing::url_router()
        .route(
            Route::new(
                "websocket.receive",
                None,
                "items_u8",
                typed::<u8>("items_u8", "id"),
            )
            .at(PathPattern::path("items/<int:id>/")),
        )
        .route(
            Route::new(
                "websocket.receive",
                None,
                "items_u32",
                typed::<u32>("items_u32", "id"),
            )
            .at(PathPattern::path("items/<int:id>/")),
        )
        .route(
            Route::new(
                "websocket.receive",
                None,
                "items_str",
                typed::<String>("items_str", "id"),
            )
            .at(PathPattern::re_path(r"^items/(?P<id>[^/]+)/$")),
        )
        .mount(PathPattern::re_path(r"^api/(?P<version>v[0-9]+)/"), api)
        .route(Route::to("websocket.connect", None, noop("connect_any")));
    let v1 = Routing::new().route(Route::new(
        "http.request",
        Some(r"^/(?P<n>[0-9]{1,3})/$"),
        "v1_n",
        typed::<u8>("v1_n", "n"),
    ));
    let http = Routing::new().include(Some("/v1"), v1).route(Route::to(
        "http.request",
        Some("/static/"),
        noop("static"),
    ));
    let channel = Routing::new().route(Route::to("thumbnails.generate", None, noop("thumbs")));
    let routing = Routing::new()
        .protocol(Protocol::WebSocket, websocket)
        .protocol(Protocol::Http, http)
        .protocol(Protocol::Channel, channel);
    assert!(routing.errors().is_empty(), "{:?}", routing.errors());
    routing
});

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `s` as `<prefix><middle>/`, with a non-empty middle.
fn between<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let middle = s.strip_prefix(prefix)?.strip_suffix('/')?;
    (!middle.is_empty()).then_some(middle)
}

/// Which consumer the fixed table picks, and what it parsed, written without regexes.
fn model(event: &str, path: &str) -> Option<(&'static str, Option<String>)> {
    match event {
        "websocket.receive" => {
            let p = path.trim_start_matches('/');
            if let Some(id) = between(p, "items/") {
                if digits(id) {
                    if let Ok(n) = id.parse::<u8>() {
                        return Some(("items_u8", Some(n.to_string())));
                    }
                    if let Ok(n) = id.parse::<u32>() {
                        return Some(("items_u32", Some(n.to_string())));
                    }
                }
                if !id.contains('/') {
                    return Some(("items_str", Some(id.to_owned())));
                }
            }
            // mount(re_path(r"^api/(?P<version>v[0-9]+)/")): the rest goes to a URLRouter, which strips
            // its leading `/` again.
            let rest = p.strip_prefix("api/v")?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            let version = format!("v{}", &rest[..end]);
            let rest = rest[end..].strip_prefix('/')?.trim_start_matches('/');
            let uid = between(rest, "users/").filter(|u| digits(u))?;
            let uid: u32 = uid.parse().ok()?;
            Some(("api_user", Some(format!("{version}:{uid}"))))
        }
        "websocket.connect" => Some(("connect_any", None)),
        "http.request" => {
            if let Some(rest) = path.strip_prefix("/v1")
                && let Some(n) = between(rest, "/").filter(|n| digits(n) && n.len() <= 3)
                && let Ok(n) = n.parse::<u8>()
            {
                return Some(("v1_n", Some(n.to_string())));
            }
            path.starts_with("/static/").then_some(("static", None))
        }
        "thumbnails.generate" => Some(("thumbs", None)),
        _ => None,
    }
}

/// A table of one route with an arbitrary pattern: it never panics, reports a pattern that is not a
/// regex on its own, and matches as the regex crate says.
fn check_own_pattern(syntax: &Syntax, source: &str, event: &str, path: &str) {
    // Keep compile times small: the regex crate's cost grows with repetition counts.
    if source.len() > 64 {
        return;
    }
    let (pattern, url_router) = match syntax {
        Syntax::Regex => (PathPattern::regex(source), false),
        Syntax::RePath => (PathPattern::re_path(source), true),
        Syntax::Path => (PathPattern::path(source), true),
    };
    let table = if url_router {
        Routing::url_router()
    } else {
        Routing::new()
    };
    let routing = table.route(Route::to("websocket.receive", None, noop("own")).at(pattern));
    let errors = routing.errors();
    let valid = match syntax {
        // A regex is valid when it is one on its own, not only once wrapped in the router's anchors.
        Syntax::Regex | Syntax::RePath => regex::Regex::new(source).is_ok(),
        Syntax::Path => channels_names::route::route_to_regex(source)
            .is_ok_and(|route| regex::Regex::new(&route.regex(true)).is_ok()),
    };
    // The regex crate refuses some patterns only for their compiled size; those may go either way once
    // wrapped, so only a pattern that compiles alone must be accepted.
    if valid {
        assert!(
            errors.is_empty(),
            "{source:?} ({syntax:?}) refused: {errors:?}"
        );
    } else if !matches!(syntax, Syntax::Path) {
        let size_limit = regex::Regex::new(source)
            .err()
            .is_some_and(|e| matches!(e, regex::Error::CompiledTooBig(_)));
        assert!(
            size_limit || !errors.is_empty(),
            "{source:?} ({syntax:?}) is not a regex, yet the table took it"
        );
    }
    let found = routing.resolve(event, path);
    if let Some(consumer) = &found {
        assert_eq!(consumer.name(), "own");
        assert_eq!(event, "websocket.receive");
    }
    if valid && event == "websocket.receive" {
        // What the route means, by the table's documented rules.
        let expected = match syntax {
            // `re.match`: the leftmost match starts at 0 exactly when some match does.
            Syntax::Regex => regex::Regex::new(source)
                .is_ok_and(|re| re.find(path).is_some_and(|m| m.start() == 0)),
            Syntax::RePath => {
                let p = path.trim_start_matches('/');
                if source.ends_with('$') {
                    // `re.fullmatch`; a newline ends a verbose-mode comment before the closing `)`.
                    [source.to_owned(), format!("{source}\n")]
                        .iter()
                        .find_map(|body| regex::Regex::new(&format!(r"\A(?:{body})\z")).ok())
                        .is_some_and(|re| re.is_match(p))
                } else {
                    regex::Regex::new(source).is_ok_and(|re| re.is_match(p))
                }
            }
            Syntax::Path => channels_names::route::route_to_regex(source)
                .ok()
                .and_then(|route| regex::Regex::new(&route.regex(true)).ok())
                .is_some_and(|re| re.is_match(path.trim_start_matches('/'))),
        };
        assert_eq!(
            found.is_some(),
            expected,
            "{source:?} ({syntax:?}) on {path:?}"
        );
    }
}

fuzz_target!(|input: Input<'_>| {
    let raw = String::from_utf8_lossy(input.path);
    let path = if input.percent_decode {
        percent_encoding::percent_decode_str(&raw)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        raw.into_owned()
    };
    let event = input.event.name();

    BOUND.with(|b| b.borrow_mut().take());
    let found = TABLE.resolve(event, &path).map(|c| c.name());
    let bound = BOUND.with(|b| b.borrow_mut().take());
    let expected = model(event, &path);
    assert_eq!(
        found,
        expected.as_ref().map(|(name, _)| *name),
        "{event:?} {path:?}"
    );
    if let Some((name, Some(value))) = expected {
        assert_eq!(bound, Some((name, value)), "{event:?} {path:?}");
    }

    if let Some((syntax, source)) = &input.pattern {
        check_own_pattern(syntax, source, event, &path);
    }
});
