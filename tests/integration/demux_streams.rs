//! Channels 1.x's `WebsocketDemultiplexer` over real sockets: `{"stream": s, "payload": p}` frames go to
//! the consumer serving `s`, its replies come back in the same envelope, connect and disconnect reach
//! every stream, and a frame that isn't such an envelope follows the error mode.

use channels::prelude::*;
use channels::testing::{TestServer, WebsocketCommunicator};
use serde_json::Value;
use tokio::sync::mpsc;

/// 1.x's `EchoConsumer(JsonWebsocketConsumer)`: says hello on connect, echoes what it gets.
struct EchoConsumer {
    room: String,
}

impl JsonWebsocketConsumer for EchoConsumer {}

#[consumer]
impl EchoConsumer {
    fn new(room: String) -> Self {
        EchoConsumer { room }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        if let Some(stream) = message.multiplexer() {
            stream
                .send(&json!({"status": "connected", "room": self.room}))
                .await?;
        }
        Ok(())
    }

    async fn receive_json(&mut self, message: Message, content: Value) -> Result<()> {
        let Some(stream) = message.multiplexer() else {
            return Ok(());
        };
        stream.send(&json!({"original_message": content})).await
    }
}

/// A second stream: counts, and broadcasts to the room's group in the envelope
/// (`WebsocketDemultiplexer.group_send`).
struct CounterConsumer {
    room: String,
    count: u32,
}

#[consumer(groups = ["demux.{room}"])]
impl CounterConsumer {
    fn new(room: String) -> Self {
        CounterConsumer { room, count: 0 }
    }

    async fn receive(&mut self, _message: Message) -> Result<()> {
        self.count += 1;
        let group = Group::new(format!("demux.{}", self.room))?;
        Multiplexer::group_send(&group, "counter", &json!({"count": self.count})).await
    }

    async fn disconnect(&mut self, _message: Message) -> Result<()> {
        let _ = DISCONNECTS
            .get()
            .map(|tx| tx.send((self.room.clone(), self.count)));
        Ok(())
    }
}

/// Each counter stream's room and count when its connection ended (tests in this file run at once:
/// each looks for its own room).
static DISCONNECTS: std::sync::OnceLock<mpsc::UnboundedSender<(String, u32)>> =
    std::sync::OnceLock::new();

channel_routing! {
    route_demultiplexer(path = r"^/multiplex/(?P<room>[a-z]+)/$", consumers = {
        "echo": EchoConsumer,
        "counter": CounterConsumer,
    }),
}

mod lenient {
    use super::*;

    channel_routing! {
        errors = "keep_open";
        route_demultiplexer(path = r"^/multiplex/(?P<room>[a-z]+)/$", consumers = {
            "echo": EchoConsumer,
        }),
    }
}

async fn open(server: &TestServer, path: &str) -> WebsocketCommunicator {
    WebsocketCommunicator::connect(server, path)
        .await
        .expect("handshake accepted")
}

#[tokio::test]
async fn frames_go_to_their_stream_and_replies_come_back_wrapped() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut ws = open(&server, "/multiplex/lobby/").await;
    // Connect reached the echo stream, whose reply is wrapped.
    assert_eq!(
        ws.receive_json().await.expect("hello"),
        json!({"stream": "echo", "payload": {"status": "connected", "room": "lobby"}})
    );
    ws.send_json_to(&json!({"stream": "echo", "payload": {"n": 1}}))
        .await
        .expect("sent");
    assert_eq!(
        ws.receive_json().await.expect("an echo"),
        json!({"stream": "echo", "payload": {"original_message": {"n": 1}}})
    );
}

#[tokio::test]
async fn a_stream_can_broadcast_in_the_envelope_and_disconnect_reaches_every_stream() {
    let (tx, mut disconnects) = mpsc::unbounded_channel();
    DISCONNECTS.set(tx).expect("set once");
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut a = open(&server, "/multiplex/kitchen/").await;
    let mut b = open(&server, "/multiplex/kitchen/").await;
    for ws in [&mut a, &mut b] {
        ws.receive_json().await.expect("the echo stream's hello");
    }
    a.send_json_to(&json!({"stream": "counter", "payload": {}}))
        .await
        .expect("sent");
    let counted = json!({"stream": "counter", "payload": {"count": 1}});
    assert_eq!(a.receive_json().await.expect("broadcast"), counted);
    assert_eq!(b.receive_json().await.expect("broadcast"), counted);
    a.disconnect().await.expect("closed");
    loop {
        let (room, count) = disconnects.recv().await.expect("a disconnect");
        if room == "kitchen" {
            assert_eq!(
                count, 1,
                "the counter stream's disconnect ran with its state"
            );
            break;
        }
    }
}

#[tokio::test]
async fn a_frame_that_is_no_envelope_closes_with_1011_by_default() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    for bad in [
        json!({"payload": {}}),
        json!({"stream": "nobody", "payload": {}}),
        json!({"stream": "echo", "payload": [1, 2]}),
    ] {
        let mut ws = open(&server, "/multiplex/lobby/").await;
        ws.receive_json().await.expect("hello");
        ws.send_json_to(&bad).await.expect("sent");
        let (code, reason) = ws.receive_close_frame().await.expect("closed");
        assert_eq!(
            (code, reason.as_str()),
            (1011, "invalid multiplexed frame"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn with_keep_open_a_bad_frame_is_logged_and_the_streams_go_on() {
    let server = TestServer::start(lenient::channel_routing())
        .await
        .expect("starts");
    let mut ws = open(&server, "/multiplex/lobby/").await;
    ws.receive_json().await.expect("hello");
    ws.send_text("not an envelope").await.expect("sent");
    ws.send_json_to(&json!({"stream": "echo", "payload": {"still": true}}))
        .await
        .expect("sent");
    assert_eq!(
        ws.receive_json().await.expect("an echo"),
        json!({"stream": "echo", "payload": {"original_message": {"still": true}}})
    );
}
