//! The opening handshake checked as RFC 6455 asks (GET, HTTP/1.1, one `Host`, a 16-byte key, version
//! 13 else 426), header hygiene (names with `_` or `.` kept out of the scope, control characters 400),
//! `X-Forwarded-*` believed only from trusted proxies, and an abrupt TCP close reported as 1006. Raw
//! TCP where a client library would refuse to send the bad request. No consumer runs for a refused
//! handshake: each test ends with a good one, whose connect must be the next the consumer sees.

use std::net::SocketAddr;

use channels::prelude::*;
use channels::server::TrustedProxy;
use channels::testing::{HttpCommunicator, TestServer, WebsocketCommunicator};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::common::{GUARD, raw_exchange, raw_upgrade};

/// What the consumers saw: `connect <path>`, `disconnect <path> <code>`.
type Seen = mpsc::UnboundedReceiver<String>;

/// On connect: records the path, accepts, and sends what the scope says (client, scheme, headers). On
/// disconnect: records the code. `http.request`: answers with the same report.
async fn start(config: ServerConfig) -> (TestServer, Seen) {
    let (tx, seen) = mpsc::unbounded_channel();
    let connected = tx.clone();
    let connect = Consumer::from_async("connect", move |m: Message| {
        let connected = connected.clone();
        async move {
            let _ = connected.send(format!("connect {}", m.path()));
            m.reply_channel.accept().await?;
            m.reply_channel.send_json(&report(&m)).await
        }
    });
    let disconnect = Consumer::from_async("disconnect", move |m: Message| {
        let tx = tx.clone();
        async move {
            let code = m.content.code().unwrap_or_default();
            let _ = tx.send(format!("disconnect {} {code}", m.path()));
            Ok::<(), Error>(())
        }
    });
    let http = Consumer::from_async("http", |m: Message| async move {
        let body = serde_json::to_string(&report(&m))?;
        m.reply_channel.respond(HttpResponse::text(body)).await
    });
    let routing = Routing::new()
        .route(Route::to("websocket.connect", None, connect))
        .route(Route::to("websocket.disconnect", None, disconnect))
        .route(Route::to("http.request", None, http));
    let server = TestServer::start_with(routing, config)
        .await
        .expect("server starts");
    (server, seen)
}

fn report(m: &Message) -> Value {
    json!({
        "client": m.content.client().map(|c| c.to_string()),
        "scheme": m.content.scheme(),
        "headers": m.content.headers(),
        "dict_scheme": m.content["scheme"],
    })
}

async fn next_seen(seen: &mut Seen) -> String {
    tokio::time::timeout(GUARD, seen.recv())
        .await
        .expect("a consumer ran in time")
        .expect("the server is alive")
}

fn addr(server: &TestServer) -> SocketAddr {
    server.local_addr().expect("a socket server")
}

/// What the connect consumer reports (see `report`) for a WebSocket to `/ws/` opened with `headers`.
async fn ws_report(server: &TestServer, headers: &[(&str, &str)]) -> Value {
    let mut ws = WebsocketCommunicator::build(server, "/ws/");
    for (name, value) in headers {
        ws = ws.header(name, value);
    }
    let mut ws = ws.connect().await.expect("accepted");
    ws.receive_json_from().await.expect("the report")
}

/// A handshake request with these lines in place of the usual ones (`None` leaves a line out).
struct Handshake<'a> {
    method: &'a str,
    version: &'a str,
    host: Option<String>,
    key: Option<&'a str>,
    ws_version: Option<&'a str>,
    extra: &'a str,
}

impl Handshake<'_> {
    fn good(addr: SocketAddr) -> Self {
        Handshake {
            method: "GET",
            version: "HTTP/1.1",
            host: Some(addr.to_string()),
            key: Some("dGhlIHNhbXBsZSBub25jZQ=="),
            ws_version: Some("13"),
            extra: "",
        }
    }

    fn bytes(&self, path: &str) -> Vec<u8> {
        let mut text = format!(
            "{} {path} {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n",
            self.method, self.version
        );
        if let Some(host) = &self.host {
            text += &format!("Host: {host}\r\n");
        }
        if let Some(key) = self.key {
            text += &format!("Sec-WebSocket-Key: {key}\r\n");
        }
        if let Some(version) = self.ws_version {
            text += &format!("Sec-WebSocket-Version: {version}\r\n");
        }
        text += self.extra;
        text += "\r\n";
        text.into_bytes()
    }
}

/// The answer to [`Handshake::good`] for `path` with one `change` made to it (see [`answer`]).
async fn answer_to_good_but(
    addr: SocketAddr,
    path: &str,
    change: impl FnOnce(&mut Handshake<'static>),
) -> (u16, String) {
    let mut handshake = Handshake::good(addr);
    change(&mut handshake);
    answer(addr, &handshake.bytes(path)).await
}

/// Sends `request` on a new connection; the answer's head (status line and headers, lower-cased).
async fn answer(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    // A refusal closes the connection (`Connection: close`), so the whole answer is there at EOF.
    let raw = raw_exchange(addr, request).await;
    let text = String::from_utf8_lossy(&raw).to_lowercase();
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, head)
}

#[tokio::test]
async fn bad_handshakes_are_refused_before_any_consumer_runs() {
    let (server, mut seen) = start(ServerConfig::default()).await;
    let addr = addr(&server);

    let (status, head) = answer_to_good_but(addr, "/post/", |h| h.method = "POST").await;
    assert_eq!(status, 405, "{head}");
    assert!(head.contains("\r\nallow: get"), "{head}");

    let (status, _) = answer_to_good_but(addr, "/old/", |h| h.version = "HTTP/1.0").await;
    assert_eq!(status, 400);

    let (status, _) = answer_to_good_but(addr, "/nohost/", |h| h.host = None).await;
    assert_eq!(status, 400);
    let two_hosts = |h: &mut Handshake| h.extra = "Host: other.example\r\n";
    let (status, _) = answer_to_good_but(addr, "/twohosts/", two_hosts).await;
    assert_eq!(status, 400);

    for key in [
        None,
        Some("c2hvcnQ="),                     // 5 bytes
        Some("not base64 at all!!!!!!!"),     // 24 characters, not base64
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAA"), // 21 bytes
    ] {
        let (status, _) = answer_to_good_but(addr, "/key/", |h| h.key = key).await;
        assert_eq!(status, 400, "key {key:?}");
    }

    let (status, head) = answer_to_good_but(addr, "/v8/", |h| h.ws_version = Some("8")).await;
    assert_eq!(status, 426, "{head}");
    assert!(head.contains("\r\nsec-websocket-version: 13"), "{head}");
    let (status, head) = answer_to_good_but(addr, "/nov/", |h| h.ws_version = None).await;
    assert_eq!(status, 400, "{head}");
    assert!(head.contains("\r\nsec-websocket-version: 13"), "{head}");

    // A control character in a header value (Daphne answers 400), on an upgrade and on plain HTTP.
    let bell = |h: &mut Handshake| h.extra = "X-Note: ring\x07ring\r\n";
    let (status, _) = answer_to_good_but(addr, "/bell/", bell).await;
    assert_eq!(status, 400);
    for control in ["\x00", "\x01", "\x1b", "\x7f"] {
        let request = format!("GET /bell/ HTTP/1.1\r\nHost: {addr}\r\nX-Note: a{control}b\r\n\r\n");
        let (status, _) = answer(addr, request.as_bytes()).await;
        assert_eq!(status, 400, "{control:?}");
    }

    // The good one, byte for byte the same but for the path, is accepted, and it is the first connect
    // the consumer sees.
    let _stream = raw_upgrade(addr, &Handshake::good(addr).bytes("/good/")).await;
    assert_eq!(next_seen(&mut seen).await, "connect /good/");
}

#[tokio::test]
async fn header_names_with_underscores_or_dots_stay_out_of_the_scope() {
    let (server, _seen) = start(ServerConfig::default()).await;
    let seen = ws_report(
        &server,
        &[
            ("x-token", "real"),
            ("x_token", "forged"),
            ("x.token", "forged"),
        ],
    )
    .await;
    let names: Vec<&str> = seen["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter_map(|pair| pair[0].as_str())
        .collect();
    assert!(names.contains(&"x-token"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(['_', '.'])), "{names:?}");

    let response = HttpCommunicator::new(&server, "GET", "/page/")
        .header("x_forwarded_for", "6.6.6.6")
        .get_response()
        .await
        .expect("a response");
    let seen: Value = serde_json::from_str(&response.text()).expect("json");
    assert!(
        !seen["headers"].to_string().contains("6.6.6.6"),
        "{}",
        seen["headers"]
    );
}

#[tokio::test]
async fn forwarded_headers_count_only_from_a_trusted_proxy() {
    // Not trusted: the headers are ignored; the client is the peer.
    let (server, _seen) = start(ServerConfig::default()).await;
    let seen = ws_report(
        &server,
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert!(
        seen["client"]
            .as_str()
            .expect("client")
            .starts_with("127.0.0.1:"),
        "{seen}"
    );
    assert_eq!(seen["scheme"], "ws");
    assert_eq!(seen["dict_scheme"], "ws");

    // Trusted (the test connects from 127.0.0.1): the right-most untrusted address is the client, and
    // the proxy's scheme is the scope's.
    let proxy: TrustedProxy = "127.0.0.0/8".parse().expect("network");
    let (server, _seen) = start(ServerConfig::default().trusted_proxy(proxy)).await;
    let seen = ws_report(
        &server,
        &[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7:5123, 127.0.0.2"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(seen["client"], "203.0.113.7:5123");
    assert_eq!(seen["scheme"], "wss");

    // X-Real-IP, and plain HTTP.
    let response = HttpCommunicator::new(&server, "GET", "/page/")
        .header("x-real-ip", "198.51.100.4")
        .header("x-forwarded-proto", "https")
        .get_response()
        .await
        .expect("a response");
    let seen: Value = serde_json::from_str(&response.text()).expect("json");
    assert_eq!(seen["client"], "198.51.100.4:0");
    assert_eq!(seen["scheme"], "https");
}

/// A client that goes away without a close frame: FIN (a closed tab's TCP), RST (a crash), or a frame
/// cut short. The disconnect consumer sees 1006 (abnormal closure), never 1002 (protocol error).
#[tokio::test]
async fn an_abrupt_tcp_close_is_reported_as_1006() {
    let (server, mut seen) = start(ServerConfig::default()).await;
    let addr = addr(&server);
    for (path, how) in [("/fin/", 0), ("/rst/", 1), ("/cut/", 2)] {
        let mut stream = raw_upgrade(addr, &Handshake::good(addr).bytes(path)).await;
        assert_eq!(next_seen(&mut seen).await, format!("connect {path}"));
        match how {
            0 => stream.shutdown().await.expect("FIN"),
            1 => stream.set_zero_linger().expect("SO_LINGER"),
            // A masked text frame header announcing 100 bytes, then 3 of them.
            _ => {
                stream
                    .write_all(&[0x81, 0x80 | 100, 1, 2, 3, 4, b'a', b'b', b'c'])
                    .await
                    .expect("write");
                stream.shutdown().await.expect("FIN");
            }
        }
        drop(stream);
        assert_eq!(
            next_seen(&mut seen).await,
            format!("disconnect {path} 1006")
        );
    }
}
