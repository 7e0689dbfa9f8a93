//! The macros' own names never meet the user's: a capture may be called `message` (or `params`,
//! `state`, `output`), a type of the user's may be called `Session` or `Message`, and a table can be
//! built inside a test's body with the consumers it defines there.

use crate::common;

use channels::prelude::*;
use common::{connect, next_text, send_text, start};

/// Types of the user's that share a name with a built-in parameter type.
mod own {
    use std::str::FromStr;

    /// A game session id from the path: a capture, whatever its name.
    #[derive(Clone, Debug)]
    pub struct Session(pub String);

    impl FromStr for Session {
        type Err = std::convert::Infallible;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            Ok(Session(s.to_uppercase()))
        }
    }

    /// An event payload called `Message`.
    #[derive(serde::Deserialize)]
    pub struct Message {
        pub text: String,
    }
}

/// Captures named like the locals the macro generates.
#[consumer]
async fn say(
    msg: Message,
    message: String,
    params: u32,
    state: String,
    output: String,
) -> Result<()> {
    let text = msg.text().unwrap_or_default();
    msg.reply_channel
        .send_text(format!("{text}: {message} {params} {state} {output}"))
        .await
}

/// A capture whose type is the user's `Session`, then the connection's real `Session` (an extractor).
#[consumer]
async fn resume(message: Message, session: own::Session, store: Session) -> Result<()> {
    let seen = store.get_str("game").unwrap_or_else(|| "none".into());
    store.set("game", json!(session.0));
    message
        .reply_channel
        .send_text(format!("{} after {seen}", session.0))
        .await
}

/// One handler parameter, of the user's type called `Message`: the event's payload, not the message.
#[derive(Default)]
struct Notes {
    reply: Option<ReplyChannel>,
}

#[consumer(groups = ["notes"])]
impl Notes {
    async fn connect(&mut self, message: Message) -> Result<()> {
        self.reply = Some(message.reply_channel.clone());
        message.reply_channel.accept().await
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        let text = message.text().unwrap_or_default();
        group!("notes")
            .send(json!({"type": "notes.add", "text": text}))
            .await
    }

    async fn notes_add(&mut self, note: own::Message) -> Result<()> {
        match &self.reply {
            Some(reply) => reply.send_text(format!("noted {}", note.text)).await,
            None => Ok(()),
        }
    }
}

channel_routing! {
    "websocket.receive", path = r"^/say/(?P<message>\w+)/(?P<params>\d+)/(?P<state>\w+)/(?P<output>\w+)/$" => say,
    "websocket.receive", path = r"^/resume/(?P<session>\w+)/$" => resume,
    route_class(Notes, path = r"^/notes/$"),
}

#[tokio::test]
async fn captures_named_like_generated_locals_reach_their_parameters() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/say/hello/7/busy/done/").await;
    send_text(&mut ws, "hi").await;
    assert_eq!(next_text(&mut ws).await, "hi: hello 7 busy done");
}

#[tokio::test]
async fn a_user_type_called_session_is_a_capture_and_the_real_session_an_extractor() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/resume/abc/").await;
    send_text(&mut ws, "x").await;
    // Parsed by the user's `FromStr` (upper case); the real session was empty.
    assert_eq!(next_text(&mut ws).await, "ABC after none");
    send_text(&mut ws, "x").await;
    // The real session kept what the first run stored.
    assert_eq!(next_text(&mut ws).await, "ABC after ABC");
}

#[tokio::test]
async fn a_single_handler_parameter_of_a_user_type_called_message_is_the_payload() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/notes/").await;
    send_text(&mut ws, "remember").await;
    assert_eq!(next_text(&mut ws).await, "noted remember");
}

#[tokio::test]
async fn a_test_builds_its_own_table_with_let() {
    #[consumer]
    async fn local_echo(message: Message, word: String) -> Result<()> {
        message
            .reply_channel
            .send_text(format!("local {word}"))
            .await
    }

    channel_routing! {
        let routing;
        "websocket.receive", path = r"^/local/(?P<word>\w+)/$" => local_echo,
        "websocket.receive", path = r"^/say/(?P<message>\w+)/(?P<params>\d+)/(?P<state>\w+)/(?P<output>\w+)/$" => say,
    }
    let (server, _layer) = start(routing).await;
    let mut ws = connect(server.local_addr(), "/local/here/").await;
    send_text(&mut ws, "x").await;
    assert_eq!(next_text(&mut ws).await, "local here");
    let mut ws = connect(server.local_addr(), "/say/a/1/b/c/").await;
    send_text(&mut ws, "x").await;
    assert_eq!(next_text(&mut ws).await, "x: a 1 b c");
}
