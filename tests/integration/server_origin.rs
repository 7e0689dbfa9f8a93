//! The `Origin` check (Channels' `AllowedHostsOriginValidator`, on by default): a browser page may open a
//! socket only to the host it was served from, or from an origin in `ServerConfig::allowed_origins`;
//! a client without `Origin` (not a browser) passes; a refused origin gets 403 before any consumer runs.

use std::net::SocketAddr;

use channels::prelude::*;
use channels::server::OriginPattern;
use channels::testing::{TestError, TestServer, WebsocketCommunicator};
use tokio::sync::mpsc;

use crate::common::GUARD;

/// A server whose connect consumer reports each connection's path (and accepts).
async fn server(config: ServerConfig) -> (TestServer, mpsc::UnboundedReceiver<String>) {
    let (seen, connects) = mpsc::unbounded_channel();
    let connect = Consumer::from_async("connect", move |m: Message| {
        let seen = seen.clone();
        async move {
            let _ = seen.send(m.path().to_owned());
            m.reply_channel.accept().await
        }
    });
    let routing = Routing::new().route(Route::to("websocket.connect", None, connect));
    let server = TestServer::start_with(routing, config)
        .await
        .expect("server starts");
    (server, connects)
}

/// The handshake's outcome with this `Origin` (none when `None`): `Ok(())` for a 101, else the status.
async fn handshake(server: &TestServer, path: &str, origin: Option<&str>) -> Result<(), u16> {
    let mut request = WebsocketCommunicator::build(server, path);
    if let Some(origin) = origin {
        request = request.origin(origin);
    }
    match request.connect().await {
        Ok(_) => Ok(()),
        Err(TestError::Refused(status)) => Err(status),
        Err(other) => panic!("expected a 101 or an HTTP refusal, got {other}"),
    }
}

/// The next connect the consumer saw.
async fn next_connect(connects: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(GUARD, connects.recv())
        .await
        .expect("a connect in time")
        .expect("the server is alive")
}

fn addr(server: &TestServer) -> SocketAddr {
    server.local_addr().expect("a socket server")
}

fn pattern(text: &str) -> OriginPattern {
    text.parse().expect("a valid pattern")
}

#[tokio::test]
async fn the_same_host_and_non_browsers_pass_and_other_origins_get_403_before_any_consumer() {
    let (server, mut connects) = server(ServerConfig::default()).await;
    let addr = addr(&server);
    // A page served by this server (the harness sends `Host: 127.0.0.1:<port>`).
    let own = format!("http://{addr}");
    assert_eq!(handshake(&server, "/own/", Some(&own)).await, Ok(()));
    assert_eq!(next_connect(&mut connects).await, "/own/");
    WebsocketCommunicator::build(&server, "/same/")
        .same_origin()
        .connect()
        .await
        .expect("the harness's own origin passes");
    assert_eq!(next_connect(&mut connects).await, "/same/");
    // Host names compare case-insensitively, as browsers may send them.
    let upper = format!("HTTP://{addr}");
    assert_eq!(handshake(&server, "/upper/", Some(&upper)).await, Ok(()));
    assert_eq!(next_connect(&mut connects).await, "/upper/");
    // No Origin: not a browser.
    assert_eq!(handshake(&server, "/native/", None).await, Ok(()));
    assert_eq!(next_connect(&mut connects).await, "/native/");

    // A page on another site, on another port of this host, a sandboxed frame, a suffix trick.
    let other_port = format!("http://127.0.0.1:{}", addr.port().wrapping_add(1));
    let suffix = format!("http://{addr}.evil.example");
    for origin in [
        "https://evil.example",
        other_port.as_str(),
        "null",
        suffix.as_str(),
        "not an origin",
    ] {
        assert_eq!(
            handshake(&server, "/refused/", Some(origin)).await,
            Err(403),
            "{origin}"
        );
    }
    // None of the refused ones reached the connect consumer: the next connect it sees is this one.
    assert_eq!(handshake(&server, "/after/", None).await, Ok(()));
    assert_eq!(next_connect(&mut connects).await, "/after/");
}

#[tokio::test]
async fn allowed_origins_compare_scheme_host_and_port_and_wildcards_match_subdomains() {
    let config = ServerConfig::default()
        .allowed_origin(pattern("https://app.example.com"))
        .allowed_origin(pattern("http://localhost:3000"))
        .allowed_origin(pattern("https://*.chat.example"));
    let (server, mut connects) = server(config).await;
    for origin in [
        "https://app.example.com",
        "https://app.example.com:443",
        "http://localhost:3000",
        "https://eu.chat.example",
        "https://a.b.chat.example",
    ] {
        assert_eq!(
            handshake(&server, "/ok/", Some(origin)).await,
            Ok(()),
            "{origin}"
        );
        assert_eq!(next_connect(&mut connects).await, "/ok/");
    }
    for origin in [
        "http://app.example.com",
        "https://app.example.com:8443",
        "http://localhost:3001",
        "https://chat.example",
        "http://eu.chat.example",
        "https://eu.chat.example.evil",
    ] {
        assert_eq!(
            handshake(&server, "/no/", Some(origin)).await,
            Err(403),
            "{origin}"
        );
    }
    assert_eq!(handshake(&server, "/after/", None).await, Ok(()));
    assert_eq!(next_connect(&mut connects).await, "/after/");
}

#[tokio::test]
async fn allow_any_origin_lets_every_page_in() {
    let (server, mut connects) = server(ServerConfig::default().allow_any_origin()).await;
    for origin in ["https://anywhere.example", "null"] {
        assert_eq!(
            handshake(&server, "/any/", Some(origin)).await,
            Ok(()),
            "{origin}"
        );
        assert_eq!(next_connect(&mut connects).await, "/any/");
    }
}

#[tokio::test]
async fn django_host_patterns_ignore_scheme_and_port() {
    let config = ServerConfig::default()
        .allowed_origin(pattern(".example.org"))
        .allowed_origin(pattern("exact.example.net"));
    let (server, mut connects) = server(config).await;
    for origin in [
        "http://example.org:8080",
        "https://www.example.org",
        "https://exact.example.net:9",
    ] {
        assert_eq!(
            handshake(&server, "/ok/", Some(origin)).await,
            Ok(()),
            "{origin}"
        );
        assert_eq!(next_connect(&mut connects).await, "/ok/");
    }
    assert_eq!(
        handshake(&server, "/no/", Some("https://sub.exact.example.net")).await,
        Err(403)
    );
}

#[test]
fn bad_patterns_are_typed_errors() {
    let error = "https://a.*.example"
        .parse::<OriginPattern>()
        .expect_err("a wildcard in the middle");
    assert_eq!(error.pattern, "https://a.*.example");
    assert!(
        error.to_string().contains("invalid origin pattern"),
        "{error}"
    );
}
