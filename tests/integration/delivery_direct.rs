//! Direct writes, over real sockets on a multi-thread runtime: a consumer's reply to a caught-up client is
//! written to its socket by the send itself (on whichever worker runs the consumer), while group messages
//! from several senders on other workers go through the connection task. Whichever way each message
//! goes, every member must get every message, each sender's in the order it sent them, mixed with its own
//! consumer's replies, also in order.

use channels::ServerHandle;
use channels::prelude::*;

use crate::common::{self, Ws};

const MEMBERS: usize = 16;
const SENDERS: usize = 4;
/// Per sender: 4 × 800 short messages (about 85 bytes each against the budget) stay far below the
/// default 1 MiB outbound budget even if a member fell behind by all of them.
const EACH: usize = 800;
/// Texts each member sends, each answered by its receive consumer with `echo:<text>`.
const ECHOES: usize = 200;

/// Every connection joins group `g`; every text it sends comes back as `echo:<text>`.
fn routing() -> Routing {
    let accept = Consumer::from_async("accept", |m: Message| async move {
        m.reply_channel.accept().await
    });
    let echo = Consumer::from_async("echo", |m: Message| async move {
        let text = m.content.text().unwrap_or_default().to_owned();
        m.reply_channel.send_text(format!("echo:{text}")).await
    });
    Routing::new()
        .route(Route::to("websocket.connect", None, accept).with_groups(["g"]))
        .route(Route::to("websocket.receive", None, echo))
}

/// Reads until the member has every group message, every echo and the message from outside the runtime;
/// checks each sender's order and the echoes' order; returns how many it got from each sender, and the
/// socket (still open).
async fn read_all(mut ws: Ws) -> ([usize; SENDERS], Ws) {
    let mut next = [0usize; SENDERS];
    let mut next_echo = 0;
    let mut outside = 0;
    while next.iter().sum::<usize>() < SENDERS * EACH || next_echo < ECHOES || outside == 0 {
        let text = ws.receive_text().await.expect("a message in time");
        if text == "outside" {
            outside += 1;
            continue;
        }
        if let Some(n) = text.strip_prefix("echo:") {
            assert_eq!(n.parse::<usize>().unwrap(), next_echo, "echoes in order");
            next_echo += 1;
            continue;
        }
        let (sender, seq) = text.split_once(':').expect("sender:seq");
        let (sender, seq): (usize, usize) = (sender.parse().unwrap(), seq.parse().unwrap());
        assert_eq!(seq, next[sender], "sender {sender}'s messages in order");
        next[sender] += 1;
    }
    assert_eq!(outside, 1);
    (next, ws)
}

fn group(server: &ServerHandle) -> Group {
    Group::new("g").expect("name").with_layer(server.layer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_group_senders_and_replies_reach_every_member_whole_and_in_order() {
    let (server, layer) = common::start(routing()).await;
    let mut members = Vec::new();
    for _ in 0..MEMBERS {
        let mut ws = common::connect(server.local_addr(), "/").await;
        // Sent before reading: the replies interleave with the group messages below.
        for i in 0..ECHOES {
            common::send_text(&mut ws, &i.to_string()).await;
        }
        members.push(ws);
    }
    assert_eq!(layer.group_len("g"), MEMBERS);
    let readers: Vec<_> = members
        .into_iter()
        .map(|ws| tokio::spawn(read_all(ws)))
        .collect();
    // Each sender on a task of its own: the runtime's four workers push to the same members at once.
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let group = group(&server);
            tokio::spawn(async move {
                for seq in 0..EACH {
                    group
                        .send_text(format!("{sender}:{seq}"))
                        .await
                        .expect("group send");
                    if seq % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // And one more sender on a thread outside the runtime, through the runtime's handle.
    let runtime = tokio::runtime::Handle::current();
    let outside = {
        let group = group(&server);
        std::thread::spawn(move || {
            runtime.block_on(async {
                group.send_text("outside").await.expect("group send");
            });
        })
    };
    for sender in senders {
        sender.await.expect("sender");
    }
    outside.join().expect("outside sender");
    let mut open = Vec::new();
    for reader in readers {
        let (got, ws) = reader.await.expect("reader");
        assert_eq!(got, [EACH; SENDERS]);
        open.push(ws);
    }
    assert_eq!(server.layer().dropped(), 0, "no member missed a message");
    assert_eq!(
        layer.group_len("g"),
        MEMBERS,
        "no member was closed as slow"
    );
}
