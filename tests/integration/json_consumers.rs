//! JSON consumers over real sockets: a `Json<T>` parameter, a class with `receive_json` and Channels'
//! `JsonWebsocketConsumer` hooks, and what a frame that doesn't decode gets in each error mode.

use channels::prelude::*;
use channels::testing::{TestServer, WebsocketCommunicator};
use serde_json::Value;

#[derive(serde::Deserialize)]
struct ChatIn {
    message: String,
}

/// The tutorial's consumer, as a function: `{"message": m}` in, `{"message": m}` out.
#[consumer]
async fn chat(message: Message, Json(chat): Json<ChatIn>) -> Result<()> {
    message
        .reply_channel
        .send_json(&json!({"message": chat.message}))
        .await
}

/// The same, in Channels 1.x's error mode.
#[consumer(errors = "keep_open")]
async fn lenient_chat(message: Message, chat: Json<ChatIn>) -> Result<()> {
    message
        .reply_channel
        .send_json(&json!({"message": chat.message}))
        .await
}

/// `class Echo(AsyncJsonWebsocketConsumer)` with hooks: a bare word decodes as a JSON string, and every
/// encoded reply says who encoded it.
#[derive(Default)]
struct Echo {
    seen: u32,
}

impl JsonWebsocketConsumer for Echo {
    fn decode_json<T: serde::de::DeserializeOwned>(
        text: &str,
    ) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_str(text).or_else(|_| serde_json::from_value(Value::from(text)))
    }

    fn encode_json<T: serde::Serialize + ?Sized>(
        content: &T,
    ) -> std::result::Result<String, serde_json::Error> {
        let value = serde_json::to_value(content)?;
        serde_json::to_string(&json!({"echo": value}))
    }
}

#[consumer]
impl Echo {
    async fn receive_json(&mut self, message: Message, content: Value) -> Result<()> {
        self.seen += 1;
        self.send_json(&message.reply_channel, &json!([self.seen, content]))
            .await
    }
}

/// A sync `JsonWebsocketConsumer` whose content is typed: a frame without `n` doesn't fit.
#[derive(Default)]
struct Adder;

impl JsonWebsocketConsumer for Adder {}

#[derive(serde::Deserialize)]
struct Add {
    n: i64,
}

#[consumer]
impl Adder {
    fn receive_json(&mut self, message: Message, content: Add) -> Result<()> {
        self.send_json_blocking(&message.reply_channel, &json!({"sum": content.n + 1}))
    }
}

channel_routing! {
    "websocket.receive", path = r"^/chat/$" => chat,
    "websocket.receive", path = r"^/lenient/$" => lenient_chat,
    route_class(Echo, path = r"^/echo/$"),
    route_class(Adder, path = r"^/add/$"),
}

async fn server() -> TestServer {
    TestServer::start(channel_routing())
        .await
        .expect("server starts")
}

#[tokio::test]
async fn a_json_parameter_takes_the_frame_decoded() {
    let server = server().await;
    let mut ws = WebsocketCommunicator::connect(&server, "/chat/")
        .await
        .expect("connects");
    ws.send_json_to(&json!({"message": "hello"}))
        .await
        .expect("sent");
    let reply: Value = ws.receive_json_from().await.expect("a reply");
    assert_eq!(reply, json!({"message": "hello"}));
}

#[tokio::test]
async fn a_frame_that_does_not_decode_closes_with_1011_in_channels_4_mode() {
    let server = server().await;
    for bad in ["not json", r#"{"text": "no message key"}"#] {
        let mut ws = WebsocketCommunicator::connect(&server, "/chat/")
            .await
            .expect("connects");
        ws.send_text(bad).await.expect("sent");
        let (code, reason) = ws.receive_close_frame().await.expect("closed");
        assert_eq!((code, reason.as_str()), (1011, "invalid JSON"), "{bad}");
    }
    let mut ws = WebsocketCommunicator::connect(&server, "/chat/")
        .await
        .expect("connects");
    ws.send_bytes(vec![1u8, 2]).await.expect("sent");
    assert_eq!(ws.receive_close().await.expect("closed"), 1011);
}

#[tokio::test]
async fn a_frame_that_does_not_decode_is_logged_and_survived_in_channels_1_mode() {
    let server = server().await;
    let mut ws = WebsocketCommunicator::connect(&server, "/lenient/")
        .await
        .expect("connects");
    ws.send_text("not json").await.expect("sent");
    ws.send_json_to(&json!({"message": "still here"}))
        .await
        .expect("sent");
    let reply: Value = ws
        .receive_json_from()
        .await
        .expect("the connection goes on");
    assert_eq!(reply, json!({"message": "still here"}));
}

#[tokio::test]
async fn receive_json_uses_the_classes_decode_and_encode_hooks() {
    let server = server().await;
    let mut ws = WebsocketCommunicator::connect(&server, "/echo/")
        .await
        .expect("connects");
    ws.send_json_to(&json!({"a": 1})).await.expect("sent");
    assert_eq!(
        ws.receive_json().await.expect("a reply"),
        json!({"echo": [1, {"a": 1}]})
    );
    // Not JSON, but this class's `decode_json` takes a bare word.
    ws.send_text("word").await.expect("sent");
    assert_eq!(
        ws.receive_json().await.expect("a reply"),
        json!({"echo": [2, "word"]})
    );
}

#[tokio::test]
async fn a_sync_receive_json_with_a_typed_content() {
    let server = server().await;
    let mut ws = WebsocketCommunicator::connect(&server, "/add/")
        .await
        .expect("connects");
    ws.send_json_to(&json!({"n": 41})).await.expect("sent");
    assert_eq!(
        ws.receive_json().await.expect("a reply"),
        json!({"sum": 42})
    );
    // A frame that doesn't fit `Add` is Channels' decode error: 1011 by default.
    ws.send_json_to(&json!({"m": 1})).await.expect("sent");
    assert_eq!(ws.receive_close().await.expect("closed"), 1011);
}
