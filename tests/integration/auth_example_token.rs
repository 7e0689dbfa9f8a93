//! The `token_auth` example over real sockets: an unknown or missing `?token=` gets 403 before any
//! consumer runs; a known token's user is seen by connect (the greeting), receive (the relayed line) and
//! disconnect (the "left" line another member sees). Its table sets the middleware with
//! `channel_routing!`'s header `middleware = token_auth();`.

use crate::common::{connect, next_text, refused_status, send_text, start};
use crate::token_auth;

#[tokio::test]
async fn an_unknown_or_missing_token_gets_403() {
    let (server, layer) = start(token_auth::channel_routing()).await;
    let addr = server.local_addr();
    assert_eq!(refused_status(addr, "/lobby/?token=nope").await, 403);
    assert_eq!(refused_status(addr, "/lobby/").await, 403);
    assert_eq!(refused_status(addr, "/lobby/?token=").await, 403);
    // No connect consumer ran: nobody joined the lobby.
    assert_eq!(layer.group_len("lobby"), 0);
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_known_token_is_the_user_of_every_consumer() {
    let (server, layer) = start(token_auth::channel_routing()).await;
    let addr = server.local_addr();
    let mut alice = connect(addr, "/lobby/?token=alice-token").await;
    assert_eq!(next_text(&mut alice).await, "hello alice");
    let mut bob = connect(addr, "/lobby/?token=bob-token").await;
    assert_eq!(next_text(&mut bob).await, "hello bob");
    assert_eq!(layer.group_len("lobby"), 2);
    send_text(&mut alice, "hi all").await;
    assert_eq!(next_text(&mut alice).await, "alice: hi all");
    assert_eq!(next_text(&mut bob).await, "alice: hi all");
    bob.disconnect().await.expect("closes");
    assert_eq!(next_text(&mut alice).await, "bob left");
}
