//! `group!("room.{room}")` in a consumer's body over real sockets: the room comes from the path capture
//! (whose pattern `channel_routing!` checked while compiling), and a name built from other text that
//! breaks Channels' rule is an error from the group's operations, never a panic.

use channels::prelude::*;
use channels::testing::{TestServer, WebsocketCommunicator};

#[consumer]
async fn join(message: Message, room: String) -> Result<()> {
    message.reply_channel.accept().await?;
    group!("room.{room}").add(&message.reply_channel).await
}

#[consumer]
async fn say(message: Message, room: String) -> Result<()> {
    let text = message.text().unwrap_or_default();
    // A name built from the frame's text: checked when the group is built.
    if let Some(other) = text.strip_prefix("to ") {
        return match group!("room.{other}").send_text("hi").await {
            Ok(()) => message.reply_channel.send_text("sent").await,
            Err(error @ Error::InvalidName { .. }) => {
                message
                    .reply_channel
                    .send_text(format!("refused: {error}"))
                    .await
            }
            Err(error) => Err(error),
        };
    }
    let number = text.len();
    group!("room.{room}")
        .send_text(format!("{room} #{number}: {text}"))
        .await?;
    // An integer placeholder: never checked at run time.
    group!("count.{number}").send_text("counted").await
}

channel_routing! {
    "websocket.connect", path = r"^/rooms/(?P<room>[a-z0-9_]+)/$" => join,
    "websocket.receive", path = r"^/rooms/(?P<room>[a-z0-9_]+)/$" => say,
}

#[tokio::test]
async fn a_capture_fills_the_template_and_members_of_that_room_hear_it() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut a = WebsocketCommunicator::connect(&server, "/rooms/kitchen/")
        .await
        .expect("a");
    let mut b = WebsocketCommunicator::connect(&server, "/rooms/kitchen/")
        .await
        .expect("b");
    let mut c = WebsocketCommunicator::connect(&server, "/rooms/hall/")
        .await
        .expect("c");
    a.send_text("hello").await.expect("sent");
    assert_eq!(
        a.receive_text().await.expect("a hears"),
        "kitchen #5: hello"
    );
    assert_eq!(
        b.receive_text().await.expect("b hears"),
        "kitchen #5: hello"
    );
    assert!(
        c.receive_nothing().await.expect("open"),
        "another room hears nothing"
    );
    assert_eq!(server.layer().group_len("room.kitchen"), 2);
}

#[tokio::test]
async fn a_template_filled_with_bad_text_is_an_error_not_a_panic() {
    let server = TestServer::start(channel_routing()).await.expect("starts");
    let mut a = WebsocketCommunicator::connect(&server, "/rooms/kitchen/")
        .await
        .expect("a");
    a.send_text("to hall").await.expect("sent");
    assert_eq!(a.receive_text().await.expect("answer"), "sent");
    a.send_text("to big hall").await.expect("sent");
    let answer = a.receive_text().await.expect("answer");
    assert!(
        answer.starts_with("refused: invalid name \"room.big hall\""),
        "{answer}"
    );
}
