//! The fan-out flush over real sockets: group messages to members that can be written to directly are
//! written by a flushing pass after the sender's turn, several per `send`. A member whose socket fills up
//! during a pass (a frame written in part, the rest left to its connection) gets that frame's rest and
//! everything after it, in order, once it reads again, while the members that read lose nothing.

use std::time::Duration;

use channels::prelude::*;
use channels::server::SlowClientStats;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{self, GUARD};
use crate::delivery_slow_clients::{non_reader, reader, send_in_rounds, seq_of};

/// Messages of 200 bytes, small enough for the flush to copy: 40,000 of them are 8 MB, more than the
/// kernel absorbs for a client that doesn't read (about 3 MiB on loopback here), so the paused member's
/// socket fills during a flush; its budget (64 MiB) holds them all, so it is never closed as slow.
const LEN: usize = 200;
const ROUNDS: usize = 400;
const PER_ROUND: usize = 100;
const TOTAL: usize = ROUNDS * PER_ROUND;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_socket_fills_mid_flush_gets_every_message_in_order_once_it_reads() {
    let config = ServerConfig::default()
        .outbound_budget(64 << 20)
        .write_timeout(Duration::from_secs(3600))
        .close_timeout(Duration::from_secs(3600));
    let (disconnects, _gone) = mpsc::unbounded_channel();
    let (server, layer) =
        common::start_with(crate::delivery_slow_clients::routing(disconnects), config).await;
    let mut paused = non_reader(server.local_addr()).await;
    let mut watches = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (seen, task) = reader(common::connect(server.local_addr(), "/").await);
        watches.push(seen);
        tasks.push(task);
    }
    assert_eq!(layer.group_len("g"), 3);
    send_in_rounds(&server, &mut watches, ROUNDS, PER_ROUND, LEN).await;
    let group = Group::new("g").expect("name").with_layer(server.layer());
    group.send_text("end").await.expect("group send");
    for task in tasks {
        let got = tokio::time::timeout(GUARD, task)
            .await
            .expect("in time")
            .expect("reader");
        assert_eq!(got, (0..TOTAL).collect::<Vec<_>>());
    }
    // The paused member now reads: every message, whole and in order, then "end".
    for expected in 0..TOTAL {
        let frame = tokio::time::timeout(GUARD, paused.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a frame");
        let WsMessage::Text(text) = frame else {
            panic!("a text frame, got {frame:?}");
        };
        assert_eq!(text.len(), LEN, "message {expected} whole");
        assert_eq!(seq_of(&text), expected, "in order");
    }
    let last = tokio::time::timeout(GUARD, paused.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("a frame");
    assert_eq!(last, WsMessage::text("end"));
    assert_eq!(layer.dropped(), 0);
    assert_eq!(server.slow_clients(), SlowClientStats::default());
}
