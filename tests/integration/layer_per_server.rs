//! Each server has its own layer: two servers in one process (tests, an embedding application) don't see
//! each other's groups, and nothing becomes the process default layer unless the user asks.

use crate::chat;
use crate::common;

use channels::prelude::*;
use common::*;

/// Connects to the chat at `addr` and waits until the client is in group "chat": its own message comes
/// back to it (the receive consumer runs after the connect consumer, which joined the group).
async fn join_chat(addr: std::net::SocketAddr, name: &str) -> Ws {
    let mut ws = connect(addr, "/chat/").await;
    send_text(&mut ws, &format!("{name} in")).await;
    assert_eq!(next_text(&mut ws).await, format!("[user] {name} in"));
    ws
}

#[tokio::test]
async fn two_servers_in_one_process_keep_their_own_groups() {
    let (one, _) = start(chat::channel_routing()).await;
    let (two, _) = start(chat::channel_routing()).await;
    let mut a1 = join_chat(one.local_addr(), "a1").await;
    let mut a2 = join_chat(one.local_addr(), "a2").await;
    assert_eq!(next_text(&mut a1).await, "[user] a2 in");
    let mut b1 = join_chat(two.local_addr(), "b1").await;

    send_text(&mut a1, "from one").await;
    assert_eq!(next_text(&mut a1).await, "[user] from one");
    assert_eq!(next_text(&mut a2).await, "[user] from one");
    // Had server two's consumers shared server one's group, b1 would have "[user] from one" (sent before
    // a1 read it) ahead of its own next message.
    send_text(&mut b1, "from two").await;
    assert_eq!(next_text(&mut b1).await, "[user] from two");
    // And the other way round.
    send_text(&mut a2, "from one again").await;
    assert_eq!(next_text(&mut a1).await, "[user] from one again");
    assert_eq!(next_text(&mut a2).await, "[user] from one again");
}

/// The only test of this binary that sets the process default (it stays set for the process): the first
/// half checks that starting servers did not set it.
#[tokio::test]
async fn the_process_default_layer_is_set_only_when_asked() {
    let (plain, plain_layer) = start(chat::channel_routing()).await;
    let mut on_plain = join_chat(plain.local_addr(), "p").await;
    // Outside any consumer, with no layer bound and none chosen as the default: a clear error.
    assert!(matches!(
        group!("chat").send_text("from outside").await,
        Err(Error::NoLayer)
    ));

    let chosen = Server::new(chat::channel_routing())
        .with_layer(std::sync::Arc::new(InMemoryLayer::new()))
        .set_as_default_layer()
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts");
    let mut on_chosen = join_chat(chosen.local_addr(), "c").await;
    group!("chat")
        .send_text("from outside")
        .await
        .expect("the default layer is the chosen server's");
    assert_eq!(next_text(&mut on_chosen).await, "from outside");
    // The other server's client got nothing: its next message is its own.
    send_text(&mut on_plain, "still here").await;
    assert_eq!(next_text(&mut on_plain).await, "[user] still here");
    assert_eq!(plain_layer.group_len("chat"), 1);
}
