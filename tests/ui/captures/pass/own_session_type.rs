//! A parameter is a path capture or an extractor by its type, not by its type's name: a type of the
//! user's called `Session` that implements `FromStr` is a capture; the real `Session` is an extractor.
#![deny(warnings)]
use channels::prelude::*;

mod game {
    /// A game session id, from the path.
    #[derive(Clone)]
    pub struct Session(pub String);

    impl std::str::FromStr for Session {
        type Err = std::convert::Infallible;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            Ok(Session(s.to_owned()))
        }
    }
}

use game::Session as GameSession;

#[consumer]
async fn join(message: Message, session: game::Session, store: Session) -> Result<()> {
    store.set("game", json!(session.0));
    message.reply_channel.accept().await
}

#[consumer]
async fn rejoin(message: Message, session: GameSession) -> Result<()> {
    message.reply_channel.send_text(session.0).await
}

channel_routing! {
    "websocket.connect", path = r"^/games/(?P<session>\w+)/$" => join,
    "websocket.receive", path = r"^/games/(?P<session>\w+)/$" => rejoin,
}

fn main() {
    let routing = channel_routing();
    assert!(routing.errors().is_empty());
    assert_eq!(
        routing
            .resolve("websocket.connect", "/games/g1/")
            .map(|c| c.name()),
        Some("join")
    );
    assert_eq!(
        routing
            .resolve("websocket.receive", "/games/g1/")
            .map(|c| c.name()),
        Some("rejoin")
    );
}
