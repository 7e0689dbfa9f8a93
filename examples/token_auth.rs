//! Run: `cargo run --release --example token_auth -- --bind 127.0.0.1:8000`, then connect a WebSocket to
//! `ws://127.0.0.1:8000/lobby/?token=alice-token` (or `bob-token`).
//!
//! Channels' token authentication middleware (the `TokenAuthMiddleware` of the Channels docs, wrapped
//! around the `URLRouter` as `AuthMiddlewareStack` is): the WebSocket URL carries `?token=...`; an unknown
//! or missing token gets 403 before any consumer runs; a known one attaches its user to the connection,
//! and every consumer sees it with `message.user::<User>()` (Channels' `scope["user"]`). Every connection
//! is in the group `lobby`: it is greeted by name, each text T goes to every member as "name: T", and a
//! connection that closes is announced as "name left" (the disconnect consumer sees the user too).
use channels::auth::{self, Refusal};
use channels::prelude::*;

mod common;

/// The user a token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's name.
    pub name: String,
}

/// The known tokens: a real app reads them from its database (and implements `auth::Middleware`, which
/// may await, instead of `auth::from_fn`).
pub const TOKENS: [(&str, &str); 2] = [("alice-token", "alice"), ("bob-token", "bob")];

/// `?token=...` to a [`User`], or 403.
pub fn token_auth() -> impl Middleware {
    auth::from_fn("token_auth", |scope| {
        let token = scope.query("token").unwrap_or_default();
        match TOKENS.iter().find(|(known, _)| *known == token) {
            Some((_, name)) => {
                scope.set_user(User {
                    name: (*name).to_owned(),
                });
                Ok(())
            }
            None => Err(Refusal::forbidden("unknown token")),
        }
    })
}

/// The user the middleware attached (it refuses every connection without one).
fn name_of(message: &Message) -> String {
    message
        .user::<User>()
        .map_or_else(|| "anonymous".to_owned(), |user| user.name.clone())
}

#[consumer]
async fn ws_connect(message: Message) -> Result<()> {
    message.reply_channel.accept().await?;
    group!("lobby").add(&message.reply_channel).await?;
    let greeting = format!("hello {}", name_of(&message));
    message.reply_channel.send_text(greeting).await
}

#[consumer]
async fn ws_receive(message: Message) -> Result<()> {
    let Some(text) = message.text() else {
        return Ok(());
    };
    let line = format!("{}: {text}", name_of(&message));
    group!("lobby").send(json!({ "text": line })).await
}

#[consumer]
async fn ws_disconnect(message: Message) -> Result<()> {
    group!("lobby").discard(&message.reply_channel).await?;
    let line = format!("{} left", name_of(&message));
    group!("lobby").send(json!({ "text": line })).await
}

// application = AuthMiddlewareStack(URLRouter([...])), with the token middleware in its place:
channel_routing! {
    middleware = token_auth();
    route("websocket.connect", ws_connect),
    route("websocket.receive", ws_receive),
    route("websocket.disconnect", ws_disconnect),
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    common::serve(channel_routing()).await
}
