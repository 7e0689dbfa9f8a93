//! Error modes over real sockets: what a consumer's failure, an event with no handler, a payload that
//! doesn't fit and data sent before `accept` do, in Channels 4's mode (the default: close with 1011) and
//! Channels 1.x's (log and keep open), chosen per consumer or per table; and 1.x's buffered sends.

use channels::prelude::*;
use channels::testing::{TestError, TestServer, WebsocketCommunicator};

/// Fails on "fail", echoes anything else.
async fn echo_or_fail(message: &Message) -> Result<()> {
    match message.text() {
        Some("fail") => Err(Error::InvalidMessage("asked to fail".into())),
        Some("self-event") => {
            let name = message.reply_channel.name().unwrap_or_default().to_owned();
            message.reply_channel.send_text(name).await
        }
        Some("key") => {
            // Python's `message.content["missing"]`: a `KeyError`.
            message.content.try_get("missing")?;
            Ok(())
        }
        other => {
            let text = other.unwrap_or_default().to_owned();
            message.reply_channel.send_text(text).await
        }
    }
}

#[consumer]
async fn strict(message: Message) -> Result<()> {
    echo_or_fail(&message).await
}

#[consumer(errors = "keep_open")]
async fn lenient(message: Message) -> Result<()> {
    echo_or_fail(&message).await
}

#[consumer(errors = "keep_open")]
async fn connect_sends_first(message: Message) -> Result<()> {
    message.reply_channel.send_text("before accept").await
}

#[consumer]
async fn connect_sends_first_strict(message: Message) -> Result<()> {
    message.reply_channel.send_text("before accept").await?;
    message.reply_channel.accept().await?;
    message.reply_channel.send_text("after accept").await
}

#[consumer]
async fn connect_only_sends(message: Message) -> Result<()> {
    message.reply_channel.send_text("before accept").await
}

/// Sends twice, then fails: with `buffered`, both sends leave anyway (Channels 1.x's `finally`).
#[consumer(buffered, errors = "keep_open")]
async fn buffered_then_fail(message: Message) -> Result<()> {
    if message.text() == Some("ok") {
        return message.reply_channel.send_text("ok").await;
    }
    message.reply_channel.send_text("one").await?;
    message.reply_channel.send_text("two").await?;
    Err(Error::InvalidMessage("failed after sending".into()))
}

/// The same with `atomic`: the sends of the failed run are discarded.
#[consumer(atomic, errors = "keep_open")]
async fn atomic_then_fail(message: Message) -> Result<()> {
    if message.text() == Some("ok") {
        return message.reply_channel.send_text("ok").await;
    }
    message.reply_channel.send_text("one").await?;
    Err(Error::InvalidMessage("failed after sending".into()))
}

#[derive(serde::Deserialize)]
struct Note {
    text: String,
}

/// A class whose `receive` sends itself an event: "bogus" has no handler, "bad" doesn't fit `Note`.
#[derive(Default)]
struct Notes;

async fn send_event(message: &Message) -> Result<()> {
    let event = match message.text() {
        Some("bogus") => json!({"type": "no.such.handler"}),
        Some("bad") => json!({"type": "note.add", "txt": "typo"}),
        Some(text) => json!({"type": "note.add", "text": text}),
        None => return Ok(()),
    };
    let name = message.reply_channel.name().unwrap_or_default().to_owned();
    Channel::new(name)?.send(event).await
}

#[consumer]
impl Notes {
    async fn receive(&mut self, message: Message) -> Result<()> {
        send_event(&message).await
    }

    async fn note_add(&mut self, message: Message, note: Note) -> Result<()> {
        message.reply_channel.send_text(note.text).await
    }
}

#[derive(Default)]
struct LenientNotes;

#[consumer(errors = "keep_open")]
impl LenientNotes {
    async fn receive(&mut self, message: Message) -> Result<()> {
        send_event(&message).await
    }

    async fn note_add(&mut self, message: Message, note: Note) -> Result<()> {
        message.reply_channel.send_text(note.text).await
    }
}

channel_routing! {
    "websocket.receive", path = r"^/strict/$" => strict,
    "websocket.receive", path = r"^/lenient/$" => lenient,
    "websocket.connect", path = r"^/early/1x/$" => connect_sends_first,
    "websocket.connect", path = r"^/early/4/$" => connect_sends_first_strict,
    "websocket.connect", path = r"^/early/undecided/$" => connect_only_sends,
    "websocket.receive", path = r"^/buffered/$" => buffered_then_fail,
    "websocket.receive", path = r"^/atomic/$" => atomic_then_fail,
    route_class(Notes, path = r"^/notes/$"),
    route_class(LenientNotes, path = r"^/lenient-notes/$"),
}

mod table_wide {
    use super::*;

    #[consumer]
    async fn plain(message: Message) -> Result<()> {
        echo_or_fail(&message).await
    }

    #[consumer(errors = "close")]
    async fn own_choice(message: Message) -> Result<()> {
        echo_or_fail(&message).await
    }

    channel_routing! {
        errors = "keep_open";
        "websocket.receive", path = r"^/plain/$" => plain,
        "websocket.receive", path = r"^/own/$" => own_choice,
    }
}

async fn open(server: &TestServer, path: &str) -> WebsocketCommunicator {
    WebsocketCommunicator::connect(server, path)
        .await
        .expect("handshake accepted")
}

/// Sends `text` and expects it back.
async fn echo(ws: &mut WebsocketCommunicator, text: &str) {
    ws.send_text(text).await.expect("sent");
    assert_eq!(ws.receive_text().await.expect("an echo"), text);
}

#[tokio::test]
async fn a_failing_consumer_closes_with_1011_by_default_and_stays_with_keep_open() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut strict = open(&server, "/strict/").await;
    strict.send_text("fail").await.expect("sent");
    assert_eq!(strict.receive_close().await.expect("closed"), 1011);

    let mut lenient = open(&server, "/lenient/").await;
    lenient.send_text("fail").await.expect("sent");
    echo(&mut lenient, "after the error").await;
}

#[tokio::test]
async fn a_missing_key_is_pythons_key_error() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut strict = open(&server, "/strict/").await;
    strict.send_text("key").await.expect("sent");
    assert_eq!(strict.receive_close().await.expect("closed"), 1011);
    let mut lenient = open(&server, "/lenient/").await;
    lenient.send_text("key").await.expect("sent");
    echo(&mut lenient, "after the KeyError").await;
}

#[tokio::test]
async fn a_table_chooses_the_mode_of_consumers_that_do_not() {
    let server = TestServer::start(table_wide::channel_routing())
        .await
        .expect("starts");
    let mut plain = open(&server, "/plain/").await;
    plain.send_text("fail").await.expect("sent");
    echo(&mut plain, "kept open by the table").await;

    let mut own = open(&server, "/own/").await;
    own.send_text("fail").await.expect("sent");
    assert_eq!(own.receive_close().await.expect("closed"), 1011);
}

#[tokio::test]
async fn an_event_without_handler_or_that_does_not_fit_follows_the_mode() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    for (sent, reason) in [
        ("bogus", "no handler for event type"),
        ("bad", "event payload does not fit its handler"),
    ] {
        let mut strict = open(&server, "/notes/").await;
        echo(&mut strict, "a note").await;
        strict.send_text(sent).await.expect("sent");
        let (code, why) = strict.receive_close_frame().await.expect("closed");
        assert_eq!((code, why.as_str()), (1011, reason));

        let mut lenient = open(&server, "/lenient-notes/").await;
        lenient.send_text(sent).await.expect("sent");
        echo(&mut lenient, "still here").await;
    }
}

#[tokio::test]
async fn a_typed_event_for_function_consumers_follows_their_mode() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    for (path, closes) in [("/strict/", true), ("/lenient/", false)] {
        let mut ws = open(&server, path).await;
        echo(&mut ws, "name?").await;
        // A typed event sent to the connection's own channel, as a Channels 4 app's `group_send` would.
        ws.send_text("self-event").await.expect("sent");
        let reply = ws.receive_text().await.expect("the channel name");
        let channel = Channel::new(reply)
            .expect("a channel name")
            .with_layer(server.handle().layer());
        channel
            .send(json!({"type": "chat.message", "text": "hi"}))
            .await
            .expect("sent");
        if closes {
            let (code, reason) = ws.receive_close_frame().await.expect("closed");
            assert_eq!((code, reason.as_str()), (1011, "no handler for event type"));
        } else {
            echo(&mut ws, "still here").await;
        }
    }
}

#[tokio::test]
async fn data_before_accept_accepts_in_1x_mode_and_is_an_error_in_channels_4_mode() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    // Channels 1.x: the text accepts the connection and arrives first.
    let mut early = open(&server, "/early/1x/").await;
    assert_eq!(
        early.receive_text().await.expect("a frame"),
        "before accept"
    );

    // Channels 4 (Daphne 4 raises): the text is dropped; only what follows `accept` arrives.
    let mut strict = open(&server, "/early/4/").await;
    assert_eq!(
        strict.receive_text().await.expect("a frame"),
        "after accept"
    );

    // A connect consumer that only sends data never accepted: refused.
    match WebsocketCommunicator::connect(&server, "/early/undecided/").await {
        Err(TestError::Refused(403)) => {}
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn buffered_sends_leave_even_when_the_consumer_fails_and_atomic_ones_do_not() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut buffered = open(&server, "/buffered/").await;
    buffered.send_text("go").await.expect("sent");
    assert_eq!(
        buffered.receive_text().await.expect("held, then sent"),
        "one"
    );
    assert_eq!(
        buffered.receive_text().await.expect("held, then sent"),
        "two"
    );

    let mut atomic = open(&server, "/atomic/").await;
    atomic.send_text("go").await.expect("sent");
    atomic.send_text("ok").await.expect("sent");
    // The failed run's "one" was discarded: the next frame is the second run's.
    assert_eq!(atomic.receive_text().await.expect("a frame"), "ok");
}
