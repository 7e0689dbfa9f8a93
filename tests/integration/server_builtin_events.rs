//! Built-in typed events reach the socket, as with Channels' protocol server: a group or reply-channel
//! message `{"type": "websocket.send", ..}`, `{"type": "websocket.close", ..}` or
//! `{"type": "websocket.accept"}` is acted on by the connection, not dispatched to a consumer.

use channels::ServerHandle;
use channels::layer::LayerMessage;
use channels::prelude::*;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{self, close_code, connect, next_frame, next_text};

/// Connections on `/` join group `g` and accept with the built-in `websocket.accept` event; their reply
/// channel names go to `names`.
fn routing(names: mpsc::UnboundedSender<String>) -> Routing {
    let connect = Consumer::from_async("connect", move |m: Message| {
        let names = names.clone();
        async move {
            let accept = LayerMessage::json(json!({"type": "websocket.accept"}));
            m.reply_channel
                .send_message(accept.expect("an object"))
                .await?;
            let _ = names.send(m.reply_channel.name().unwrap_or_default().to_owned());
            Ok::<(), Error>(())
        }
    });
    Routing::new().route(Route::to("websocket.connect", None, connect).with_groups(["g"]))
}

async fn start() -> (ServerHandle, mpsc::UnboundedReceiver<String>) {
    let (names, named) = mpsc::unbounded_channel();
    let (server, _) = common::start(routing(names)).await;
    (server, named)
}

fn group(server: &ServerHandle) -> Group {
    Group::new("g").expect("name").with_layer(server.layer())
}

#[tokio::test]
async fn a_group_websocket_send_reaches_the_socket_as_a_text_frame() {
    let (server, _) = start().await;
    let mut ws = connect(server.local_addr(), "/").await;
    group(&server)
        .send(json!({"type": "websocket.send", "text": "hi"}))
        .await
        .expect("group send");
    assert_eq!(next_text(&mut ws).await, "hi");
    group(&server)
        .send(json!({"type": "websocket.send", "bytes": [1, 2, 3]}))
        .await
        .expect("group send");
    assert_eq!(
        next_frame(&mut ws).await,
        WsMessage::Binary(vec![1u8, 2, 3].into())
    );
}

#[tokio::test]
async fn a_websocket_send_to_the_reply_channel_reaches_the_socket() {
    let (server, mut names) = start().await;
    let mut ws = connect(server.local_addr(), "/").await;
    let name = names.recv().await.expect("reply channel");
    let event = LayerMessage::json(json!({"type": "websocket.send", "text": "direct"}));
    server
        .layer()
        .send(&name, event.expect("an object"))
        .await
        .expect("send");
    assert_eq!(next_text(&mut ws).await, "direct");
}

#[tokio::test]
async fn a_typed_dict_sent_with_reply_channel_send_reaches_the_socket() {
    let (server, mut names) = start().await;
    let mut ws = connect(server.local_addr(), "/").await;
    let name = names.recv().await.expect("reply channel");
    let reply = ReplyChannel::new(name, server.layer());
    reply
        .send(json!({"type": "websocket.send", "text": "typed"}))
        .await
        .expect("a typed dict is an event");
    assert_eq!(next_text(&mut ws).await, "typed");
    let refused = reply.send(json!({"type": 7, "text": "x"})).await;
    assert!(
        matches!(refused, Err(Error::InvalidMessage(ref m)) if m.contains("`type` must be a string")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_group_websocket_close_closes_with_its_code() {
    let (server, _) = start().await;
    let mut ws = connect(server.local_addr(), "/").await;
    group(&server)
        .send(json!({"type": "websocket.close", "code": 4001, "reason": "bye"}))
        .await
        .expect("group send");
    assert_eq!(close_code(&mut ws).await, 4001);
}
