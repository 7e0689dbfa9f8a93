//! The public test harness (`channels::testing`), as a Channels user's tests use it: the request side of
//! `WebsocketCommunicator` (headers, cookies, `Origin`, subprotocols), `receive_nothing`,
//! `receive_json_from`, `HttpCommunicator`, and the in-process server under tokio's paused clock.

use std::time::Duration;

use channels::prelude::*;
use channels::testing::{HttpCommunicator, TestError, TestServer, WebsocketCommunicator};
use serde_json::Value;

/// On connect, reports what the handshake carried; then echoes JSON.
#[consumer]
async fn report(message: Message) -> Result<()> {
    message.reply_channel.accept().await?;
    let header = |name: &str| message.content.header(name).map(str::to_owned);
    message
        .reply_channel
        .send_json(&json!({
            "origin": header("origin"),
            "cookie": header("cookie"),
            "x-token": header("x-token"),
            "subprotocols": header("sec-websocket-protocol"),
            "query": message.content.query_string(),
        }))
        .await
}

#[consumer]
async fn echo_json(message: Message, Json(value): Json<Value>) -> Result<()> {
    message.reply_channel.send_json(&value).await
}

/// Counts down from `n`, one frame an hour.
#[consumer]
async fn countdown(message: Message, n: u32) -> Result<()> {
    for i in (0..n).rev() {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        message.reply_channel.send_text(i.to_string()).await?;
    }
    Ok(())
}

#[consumer]
async fn page(message: Message) -> Result<()> {
    let body = message.bytes().map(|b| b.len()).unwrap_or_default();
    let answer = format!(
        "{} {} body={body} x={}",
        message.content.method(),
        message.path(),
        message.content.header("x-test").unwrap_or("none")
    );
    message
        .reply_channel
        .respond(HttpResponse::text(answer))
        .await
}

channel_routing! {
    "websocket.connect", path = r"^/report/$" => report,
    "websocket.receive", path = r"^/report/$" => echo_json,
    "websocket.receive", path = r"^/countdown/(?P<n>[0-9]+)/$" => countdown,
    "http.request" => page,
}

#[tokio::test]
async fn the_handshake_carries_headers_cookies_origin_and_subprotocols() {
    let config =
        ServerConfig::default().allowed_origin("https://chat.example".parse().expect("origin"));
    let server = TestServer::start_with(channel_routing(), config)
        .await
        .expect("starts");
    let mut ws = WebsocketCommunicator::build(&server, "/report/?room=lobby")
        .origin("https://chat.example")
        .cookie("sessionid", "abc")
        .cookie("csrftoken", "xyz")
        .header("x-token", "t0k")
        .subprotocols(["chat.v2", "chat.v1"])
        .connect()
        .await
        .expect("accepted");
    let seen: Value = ws.receive_json_from().await.expect("the report");
    assert_eq!(
        seen,
        json!({
            "origin": "https://chat.example",
            "cookie": "sessionid=abc; csrftoken=xyz",
            "x-token": "t0k",
            "subprotocols": "chat.v2, chat.v1",
            "query": "room=lobby",
        })
    );
    // The consumer accepted without choosing a subprotocol: the 101 names none (server_subprotocols.rs
    // tests the choosing).
    assert_eq!(ws.subprotocol(), None);
    assert_eq!(ws.response_header("upgrade"), Some("websocket"));
}

#[tokio::test]
async fn receive_nothing_keeps_a_frame_that_does_arrive() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut ws = WebsocketCommunicator::connect(&server, "/report/")
        .await
        .expect("accepted");
    // The report is already on its way: something does arrive, and is kept for the next receive.
    let mut waited = 0;
    while ws.receive_nothing().await.expect("open") {
        waited += 1;
        assert!(waited < 100, "the report never arrived");
    }
    let report: Value = ws.receive_json_from().await.expect("the kept frame");
    assert_eq!(report["query"], "");
    assert!(ws.receive_nothing().await.expect("open"));
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Point {
        x: i32,
    }
    ws.send_json_to(&json!({"x": 3})).await.expect("sent");
    let point: Point = ws.receive_json_from().await.expect("typed");
    assert_eq!(point, Point { x: 3 });
}

#[tokio::test]
async fn a_refused_handshake_is_an_error_with_its_status() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    match WebsocketCommunicator::connect(&server, "/nowhere/").await {
        Err(TestError::Refused(404)) => {}
        other => panic!("expected a 404, got {other:?}"),
    }
}

#[tokio::test]
async fn http_communicator_sends_method_headers_and_body() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let response = HttpCommunicator::new(&server, "POST", "/form/")
        .header("x-test", "yes")
        .body("a=1&b=2")
        .get_response()
        .await
        .expect("a response");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "POST /form/ body=7 x=yes");
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test(start_paused = true)]
async fn in_process_a_consumer_that_sleeps_for_hours_tests_at_once() {
    let server = TestServer::in_process(channel_routing())
        .await
        .expect("starts");
    assert_eq!(server.local_addr(), None);
    let mut ws = WebsocketCommunicator::connect(&server, "/countdown/3/")
        .await
        .expect("accepted");
    ws.send_text("go").await.expect("sent");
    // Just short of an hour, so that the receive after it (which waits up to 10 s) ends past the hour.
    let almost_an_hour = Duration::from_secs(3600 - 5);
    for expected in ["2", "1", "0"] {
        // Nothing for most of each hour...
        assert!(
            ws.receive_nothing_within(almost_an_hour)
                .await
                .expect("open")
        );
        // ...then the frame, when the paused clock reaches the hour: no real time passes.
        assert_eq!(ws.receive_text().await.expect("a frame"), expected);
    }
}

#[tokio::test(start_paused = true)]
async fn in_process_http_and_handshakes_work_as_over_a_socket() {
    let config =
        ServerConfig::default().allowed_origin("https://in.process".parse().expect("origin"));
    let server = TestServer::in_process_with(channel_routing(), config)
        .await
        .expect("starts");
    let response = HttpCommunicator::new(&server, "GET", "/x")
        .get_response()
        .await
        .expect("a response");
    assert_eq!(response.text(), "GET /x body=0 x=none");
    let mut ws = WebsocketCommunicator::build(&server, "/report/")
        .origin("https://in.process")
        .connect()
        .await
        .expect("accepted");
    let report: Value = ws.receive_json_from().await.expect("the report");
    assert_eq!(report["origin"], "https://in.process");
    match WebsocketCommunicator::connect(&server, "/nowhere/").await {
        Err(TestError::Refused(404)) => {}
        other => panic!("expected a 404, got {other:?}"),
    }
}
