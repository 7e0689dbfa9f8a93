//! Outbound buffering bounded by bytes, over real sockets: members that read get every message in order,
//! a member that stops reading is closed with 1013 past its budget (or, with the opt-in drop policy,
//! misses messages and stays), and the server counts it.

use std::time::Duration;

use channels::ServerHandle;
use channels::prelude::*;
use channels::server::{SlowClientPolicy, SlowClientStats};
use futures_util::StreamExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{self, GUARD};

/// The slow-client scenarios send 500 rounds of 4 messages of 8 KiB: 16 MiB for each member, 125 times
/// the 128 KiB budget they use and four times what the kernel's socket buffers absorb for a client that
/// doesn't read (about 3 MiB on loopback here; `tcp_wmem`'s ceiling is 4 MiB), so a member that doesn't
/// read goes past its budget whatever the kernel takes. Each round (33 KB counted) is sent once the
/// readers have the one before: a reader holds at most that round and the last one (whose bytes the
/// server gives back just after the socket took them, so possibly after the reader has them).
const ROUNDS: usize = 500;
const PER_ROUND: usize = 4;
const LEN: usize = 8 << 10;
const TOTAL: usize = ROUNDS * PER_ROUND;
const BUDGET: usize = 128 << 10;

/// Every connection joins group `g`; the disconnect consumer reports its reply channel and code.
pub(crate) fn routing(disconnects: mpsc::UnboundedSender<(String, u16)>) -> Routing {
    let accept = Consumer::from_async("accept", |m: Message| async move {
        m.reply_channel.accept().await
    });
    let gone = Consumer::from_async("gone", move |m: Message| {
        let disconnects = disconnects.clone();
        async move {
            let name = m.reply_channel.name().unwrap_or_default().to_owned();
            let code = m.content.code().unwrap_or_default();
            let _ = disconnects.send((name, code));
            Ok::<(), Error>(())
        }
    });
    Routing::new()
        .route(Route::to("websocket.connect", None, accept).with_groups(["g"]))
        .route(Route::to("websocket.disconnect", None, gone).with_groups(["g"]))
}

/// A message that says its sequence number, padded to `len` bytes.
pub(crate) fn numbered(seq: usize, len: usize) -> String {
    format!("{seq:0>len$}")
}

pub(crate) fn seq_of(text: &str) -> usize {
    text.trim_start_matches('0').parse().unwrap_or(0)
}

/// A member that reads every message as it comes; its watch says how many it has got, in order.
pub(crate) fn reader(
    mut ws: common::Ws,
) -> (watch::Receiver<usize>, tokio::task::JoinHandle<Vec<usize>>) {
    let (progress, seen) = watch::channel(0);
    let task = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Ok(text) = ws.receive_text().await {
            if text == "end" {
                break;
            }
            got.push(seq_of(&text));
            progress.send_replace(got.len());
        }
        got
    });
    (seen, task)
}

/// A client that completes the handshake and then reads nothing (a 4 KiB receive buffer, so the kernel
/// absorbs little), until the test resumes it.
pub(crate) async fn non_reader(addr: std::net::SocketAddr) -> WebSocketStream<TcpStream> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .expect("handshake");
    ws
}

fn group(server: &ServerHandle) -> Group {
    Group::new("g").expect("name").with_layer(server.layer())
}

/// Sends `rounds` rounds of `per_round` numbered messages of `len` bytes, each round once every reader
/// has got the one before: the readers keep up, whatever the non-reader does.
pub(crate) async fn send_in_rounds(
    server: &ServerHandle,
    readers: &mut [watch::Receiver<usize>],
    rounds: usize,
    per_round: usize,
    len: usize,
) {
    let group = group(server);
    for round in 0..rounds {
        for i in 0..per_round {
            let seq = round * per_round + i;
            group
                .send_text(numbered(seq, len))
                .await
                .expect("group send");
        }
        let target = (round + 1) * per_round;
        for seen in readers.iter_mut() {
            tokio::time::timeout(GUARD, seen.wait_for(|&n| n >= target))
                .await
                .expect("readers keep up")
                .expect("reader alive");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_5000_reaches_50_reading_members_whole_and_in_order() {
    // The old reply channel held 100 messages: most of such a burst was dropped for every member.
    let (disconnects, _) = mpsc::unbounded_channel();
    let (server, layer) = common::start(routing(disconnects)).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let ws = common::connect(server.local_addr(), "/").await;
        tasks.push(reader(ws).1);
    }
    assert_eq!(layer.group_len("g"), 50);
    let group = group(&server);
    for seq in 0..5000 {
        group
            .send_text(numbered(seq, 64))
            .await
            .expect("group send");
    }
    group.send_text("end").await.expect("group send");
    for task in tasks {
        let got = tokio::time::timeout(GUARD * 3, task)
            .await
            .expect("in time")
            .expect("reader");
        assert_eq!(got, (0..5000).collect::<Vec<_>>());
    }
    assert_eq!(layer.dropped(), 0);
    assert_eq!(server.slow_clients(), SlowClientStats::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_reading_is_closed_with_1013_and_the_readers_lose_nothing() {
    let config = ServerConfig::default()
        .outbound_budget(BUDGET)
        .write_timeout(Duration::from_secs(3600))
        .close_timeout(Duration::from_secs(3600));
    let (disconnects, mut gone) = mpsc::unbounded_channel();
    let (server, layer) = common::start_with(routing(disconnects), config).await;
    let mut slow = non_reader(server.local_addr()).await;
    let mut watches = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (seen, task) = reader(common::connect(server.local_addr(), "/").await);
        watches.push(seen);
        tasks.push(task);
    }
    assert_eq!(layer.group_len("g"), 6);

    send_in_rounds(&server, &mut watches, ROUNDS, PER_ROUND, LEN).await;
    // The slow member's membership went with it: the readers alone are left.
    assert_eq!(layer.group_len("g"), 5);
    group(&server).send_text("end").await.expect("group send");
    for task in tasks {
        let got = tokio::time::timeout(GUARD, task)
            .await
            .expect("in time")
            .expect("reader");
        assert_eq!(got, (0..TOTAL).collect::<Vec<_>>());
    }
    let stats = server.slow_clients();
    assert_eq!(stats.closed_over_budget, 1, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");

    // Reading again, it finds an unbroken run of messages from the first, then the close frame.
    let mut expected = 0;
    let code = loop {
        match tokio::time::timeout(GUARD, slow.next())
            .await
            .expect("in time")
        {
            Some(Ok(WsMessage::Text(text))) => {
                assert_eq!(seq_of(&text), expected, "no gap before the close");
                expected += 1;
            }
            Some(Ok(WsMessage::Close(frame))) => break frame.map(|f| f.code),
            other => panic!("expected text or close, got {other:?}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Again));
    assert!(expected < TOTAL, "it was closed before the end");
    // Its disconnect consumer ran with the close code (the readers' ran too, with 1006).
    loop {
        let (_, code) = tokio::time::timeout(GUARD, gone.recv())
            .await
            .expect("disconnect in time")
            .expect("disconnect");
        if code == 1013 {
            break;
        }
        assert_eq!(code, 1006, "a reader that went away without closing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_drop_policy_a_slow_member_misses_messages_and_stays() {
    let config = ServerConfig::default()
        .outbound_budget(BUDGET)
        .slow_client(SlowClientPolicy::Drop)
        .write_timeout(Duration::from_secs(3600));
    let (disconnects, _) = mpsc::unbounded_channel();
    let (server, layer) = common::start_with(routing(disconnects), config).await;
    let mut slow = non_reader(server.local_addr()).await;
    let (seen, task) = reader(common::connect(server.local_addr(), "/").await);

    send_in_rounds(&server, &mut [seen], ROUNDS, PER_ROUND, LEN).await;
    let stats = server.slow_clients();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.closed_over_budget, 0, "{stats:?}");
    assert_eq!(layer.dropped(), stats.dropped);
    assert_eq!(layer.group_len("g"), 2);

    // It reads again: what it gets is in order, with gaps. Each message it reads is answered with a
    // marker: once its backlog is written, its budget has room, so a marker gets through, after the rest.
    let (progress, mut progressed) = mpsc::unbounded_channel();
    let slow_reader = tokio::spawn(async move {
        let mut got: Vec<usize> = Vec::new();
        loop {
            match tokio::time::timeout(GUARD, slow.next())
                .await
                .expect("in time")
            {
                Some(Ok(WsMessage::Text(text))) if text.as_str() == "end" => return got,
                Some(Ok(WsMessage::Text(text))) => {
                    got.push(seq_of(&text));
                    let _ = progress.send(());
                }
                other => panic!("expected text, got {other:?}"),
            }
        }
    });
    let group = group(&server);
    group.send_text("end").await.expect("group send");
    while progressed.recv().await.is_some() {
        group.send_text("end").await.expect("group send");
    }
    let got = slow_reader.await.expect("slow reader");
    assert!(!got.is_empty());
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(got.len() < TOTAL, "some were dropped: got {}", got.len());
    let fast = tokio::time::timeout(GUARD, task)
        .await
        .expect("in time")
        .expect("reader");
    assert_eq!(fast, (0..TOTAL).collect::<Vec<_>>());
}
