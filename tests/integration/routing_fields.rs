//! Channels 1.x field matching over real sockets: `route("chat.receive", chat_join, command=r"^join$")`
//! routes each message by its fields (named captures become parameters), on a worker channel and on a
//! connection's `websocket.receive`.

use crate::common;

use channels::prelude::*;
use common::{connect, next_text, send_text, start};

/// The multichat example's `ws_receive`: hands each command to the `chat.receive` channel.
#[consumer]
async fn ws_receive(message: Message) -> Result<()> {
    let command: serde_json::Value =
        serde_json::from_str(message.text().unwrap_or("{}")).unwrap_or_default();
    let reply = message.reply_channel.name().unwrap_or_default().to_owned();
    Channel::new("chat.receive")?
        .send(json!({
            "command": command["command"],
            "room": command["room"],
            "reply_channel": reply,
        }))
        .await
}

#[consumer]
async fn chat_join(message: Message, room: String) -> Result<()> {
    message
        .reply_channel
        .send_text(format!("joined {room}"))
        .await
}

#[consumer]
async fn chat_leave(message: Message) -> Result<()> {
    message.reply_channel.send_text("left").await
}

#[consumer]
async fn chat_other(message: Message) -> Result<()> {
    let text = format!("unknown {}", message["command"]);
    message.reply_channel.send_text(text).await
}

#[consumer]
async fn pong(message: Message, times: String) -> Result<()> {
    message
        .reply_channel
        .send_text(format!("pong {times}"))
        .await
}

#[consumer]
async fn echo(message: Message) -> Result<()> {
    let text = format!("echo {}", message.text().unwrap_or_default());
    message.reply_channel.send_text(text).await
}

channel_routing! {
    "websocket.receive", path = r"^/cmd/", text = r"^ping (?P<times>\d+)$" => pong,
    "websocket.receive", path = r"^/cmd/" => echo,
    "websocket.receive" => ws_receive,
    route("chat.receive", chat_join, command = r"^join$", room = r"^(?P<room>[a-z]+)$"),
    route("chat.receive", chat_leave, command = r"^leave$"),
    route("chat.receive", chat_other),
}

#[tokio::test]
async fn a_worker_channel_routes_each_message_by_its_fields() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/chat/").await;
    for (command, reply) in [
        (r#"{"command": "join", "room": "lobby"}"#, "joined lobby"),
        (r#"{"command": "leave"}"#, "left"),
        // `room` doesn't match `[a-z]+`: not a join.
        (
            r#"{"command": "join", "room": "Lobby 2"}"#,
            r#"unknown "join""#,
        ),
        (r#"{"command": "dance"}"#, r#"unknown "dance""#),
        (
            r#"{"command": "join", "room": "kitchen"}"#,
            "joined kitchen",
        ),
    ] {
        send_text(&mut ws, command).await;
        assert_eq!(next_text(&mut ws).await, reply, "{command}");
    }
}

#[tokio::test]
async fn a_connection_routes_each_receive_by_its_text() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/cmd/").await;
    send_text(&mut ws, "ping 3").await;
    assert_eq!(next_text(&mut ws).await, "pong 3");
    send_text(&mut ws, "hello").await;
    assert_eq!(next_text(&mut ws).await, "echo hello");
    send_text(&mut ws, "ping 4").await;
    assert_eq!(next_text(&mut ws).await, "pong 4");
}
