//! The rest of ASGI's `websocket.accept` and `websocket.close`: the connect consumer sees the offered
//! subprotocols and accepts with one (the 101 names it, and a real client library takes it), a
//! subprotocol the client did not offer is refused with 500, extra headers on the 101, and a close
//! reason that reaches the client, from the consumer or from a group.

use channels::prelude::*;
use channels::testing::{TestError, TestServer, WebsocketCommunicator};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::GUARD;

/// The subprotocols this server speaks, best first.
const SPOKEN: [&str; 2] = ["chat.v2", "chat.v1"];

#[consumer(groups = ["room"])]
async fn connect(message: Message) -> Result<()> {
    let reply = &message.reply_channel;
    match message.path() {
        "/pick/" => {
            // Channels' `scope["subprotocols"]`: the client's list, in its order.
            let offered = message.content.subprotocols();
            match SPOKEN.iter().find(|p| offered.iter().any(|o| o == *p)) {
                Some(chosen) => reply.accept_subprotocol(chosen).await?,
                None => reply.accept().await?,
            }
            reply
                .send_json(&json!({
                    "offered": offered,
                    "dict": message.content["subprotocols"],
                }))
                .await
        }
        "/wrong/" => reply.accept_subprotocol("not.offered").await,
        "/asgi/" => {
            reply
                .send(json!({
                    "type": "websocket.accept",
                    "subprotocol": "chat.v1",
                    "headers": [["set-cookie", "seen=1; Path=/"], ["x-extra", "yes"]],
                }))
                .await
        }
        "/headers/" => {
            // The handshake's own headers can't be set: a typed error, and nothing is sent.
            let refused = reply.accept_with(None, &[("upgrade", "h2c")]).await;
            reply.accept_with(None, &[("x-extra", "1")]).await?;
            reply
                .send_text(format!("upgrade refused: {}", refused.is_err()))
                .await
        }
        _ => reply.accept().await,
    }
}

#[consumer(groups = ["room"])]
async fn receive(message: Message) -> Result<()> {
    let text = message.text().unwrap_or_default().to_owned();
    match text.as_str() {
        "dict" => {
            message
                .reply_channel
                .send(json!({"type": "websocket.close", "code": 4002, "reason": "from a dict"}))
                .await
        }
        "group" => {
            Group::new("room")?
                .send(json!({"type": "websocket.close", "code": 4003, "reason": "room closed"}))
                .await
        }
        "long" => {
            message
                .reply_channel
                .close_with_reason(4004, &"é".repeat(100))
                .await
        }
        reason => message.reply_channel.close_with_reason(4001, reason).await,
    }
}

channel_routing! {
    "websocket.connect" => connect,
    "websocket.receive" => receive,
}

async fn start() -> TestServer {
    TestServer::start(channel_routing())
        .await
        .expect("server starts")
}

#[tokio::test]
async fn the_connect_consumer_sees_the_offer_and_accepts_with_one() {
    let server = start().await;
    let mut ws = WebsocketCommunicator::build(&server, "/pick/")
        .subprotocols(["token.abc", "chat.v1", "chat.v2"])
        .connect()
        .await
        .expect("accepted");
    // The server's preference among those offered.
    assert_eq!(ws.subprotocol(), Some("chat.v2"));
    let seen: Value = ws.receive_json_from().await.expect("the report");
    assert_eq!(seen["offered"], json!(["token.abc", "chat.v1", "chat.v2"]));
    assert_eq!(seen["dict"], seen["offered"]);

    // Nothing offered: accepted without a subprotocol, and the 101 names none.
    let mut ws = WebsocketCommunicator::connect(&server, "/pick/")
        .await
        .expect("accepted");
    assert_eq!(ws.subprotocol(), None);
    let seen: Value = ws.receive_json_from().await.expect("the report");
    assert_eq!(seen["offered"], json!([]));
    assert_eq!(seen["dict"], json!([]), "ASGI: present, and empty");
}

/// tungstenite's client fails a handshake whose subprotocol it did not offer, or that names none when it
/// offered some, as browsers do: this one completes.
#[tokio::test]
async fn a_client_library_that_insists_on_a_subprotocol_gets_one() {
    let server = start().await;
    let addr = server.local_addr().expect("socket");
    let mut request = format!("ws://{addr}/pick/")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "chat.v1".parse().expect("header value"),
    );
    let (mut ws, response) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(request))
        .await
        .expect("in time")
        .expect("the client library accepts the handshake");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.as_bytes()),
        Some(&b"chat.v1"[..])
    );
    let Some(Ok(WsMessage::Text(report))) = ws.next().await else {
        panic!("no report")
    };
    let report: Value = serde_json::from_str(&report).expect("json");
    assert_eq!(report["offered"], json!(["chat.v1"]));
}

#[tokio::test]
async fn a_subprotocol_the_client_did_not_offer_is_refused_with_500() {
    let server = start().await;
    for offered in [vec!["chat.v1"], vec![]] {
        match WebsocketCommunicator::build(&server, "/wrong/")
            .subprotocols(offered.clone())
            .connect()
            .await
        {
            Err(TestError::Refused(500)) => {}
            other => panic!("offered {offered:?}: expected 500, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn accept_adds_headers_to_the_101() {
    let server = start().await;
    // ASGI's dict form, with a subprotocol.
    let ws = WebsocketCommunicator::build(&server, "/asgi/")
        .subprotocols(["chat.v1"])
        .connect()
        .await
        .expect("accepted");
    assert_eq!(ws.subprotocol(), Some("chat.v1"));
    assert_eq!(ws.response_header("set-cookie"), Some("seen=1; Path=/"));
    assert_eq!(ws.response_header("x-extra"), Some("yes"));
    // The handshake's own headers are intact.
    assert_eq!(ws.response_header("upgrade"), Some("websocket"));

    // `accept_with`; an accept that would set a handshake header is refused to the consumer.
    let mut ws = WebsocketCommunicator::connect(&server, "/headers/")
        .await
        .expect("accepted");
    assert_eq!(ws.response_header("x-extra"), Some("1"));
    assert_eq!(
        ws.receive_text().await.expect("text"),
        "upgrade refused: true"
    );
}

#[tokio::test]
async fn close_reasons_reach_the_client() {
    let server = start().await;
    let cases = [
        ("see you", (4001, "see you".to_owned())),
        ("dict", (4002, "from a dict".to_owned())),
        ("group", (4003, "room closed".to_owned())),
    ];
    for (send, expected) in cases {
        let mut ws = WebsocketCommunicator::connect(&server, "/close/")
            .await
            .expect("accepted");
        ws.send_text(send).await.expect("sent");
        assert_eq!(
            ws.receive_close_frame().await.expect("a close"),
            expected,
            "{send}"
        );
    }
    // A reason longer than a close frame holds is cut at a character boundary (123 bytes at most).
    let mut ws = WebsocketCommunicator::connect(&server, "/close/")
        .await
        .expect("accepted");
    ws.send_text("long").await.expect("sent");
    let (code, reason) = ws.receive_close_frame().await.expect("a close");
    assert_eq!(code, 4004);
    assert_eq!(reason, "é".repeat(61));
}

/// What can't be sent is an error at the call, before anything is sent (here, to no connection at all).
#[tokio::test]
async fn malformed_accepts_and_closes_are_errors_for_the_caller() {
    let reply = ReplyChannel::none();
    for refused in [
        reply
            .close_with_reason(1006, "a code only the server reports")
            .await,
        reply.accept_subprotocol("two words").await,
        reply.accept_with(None, &[("connection", "close")]).await,
        reply.accept_with(None, &[("bad name", "v")]).await,
        reply.accept_with(None, &[("x-ok", "bell\u{7}")]).await,
    ] {
        assert!(
            matches!(refused, Err(Error::InvalidMessage(_))),
            "{refused:?}"
        );
    }
    // Well-formed: it gets as far as the missing reply channel.
    assert!(matches!(
        reply.accept_subprotocol("chat.v1").await,
        Err(Error::NoReplyChannel)
    ));
}
