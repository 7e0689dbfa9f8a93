//! Connect semantics and failure handling: accept, reject, undecided, errors and panics.

use crate::common;

use std::sync::Arc;

use channels::prelude::*;
use common::*;
use tokio::sync::mpsc;

fn receive_echo() -> Route {
    Route::to(
        "websocket.receive",
        None,
        Consumer::from_async("echo", |m: Message| async move {
            let text = m.text().unwrap_or_default().to_owned();
            m.reply_channel.send_text(text).await
        }),
    )
}

#[tokio::test]
async fn without_a_connect_route_connections_are_accepted() {
    let (server, _) = start(Routing::new().route(receive_echo())).await;
    let mut ws = connect(server.local_addr(), "/x/").await;
    send_text(&mut ws, "ok").await;
    assert_eq!(next_text(&mut ws).await, "ok");
}

#[tokio::test]
async fn a_rejecting_connect_consumer_gives_403() {
    let reject = Consumer::from_async("reject", |m: Message| async move {
        m.reply_channel.send(json!({"accept": false})).await
    });
    let routing = Routing::new()
        .route(Route::to("websocket.connect", Some("/private/"), reject))
        .route(receive_echo());
    let (server, _) = start(routing).await;
    assert_eq!(refused_status(server.local_addr(), "/private/").await, 403);
    // Other paths have no connect route and are accepted.
    connect(server.local_addr(), "/public/").await;
}

#[tokio::test]
async fn close_before_accept_is_a_rejection() {
    let close = Consumer::from_async("close", |m: Message| async move {
        m.reply_channel.close().await
    });
    let (server, _) =
        start(Routing::new().route(Route::to("websocket.connect", None, close))).await;
    assert_eq!(refused_status(server.local_addr(), "/").await, 403);
}

#[tokio::test]
async fn a_connect_consumer_that_does_not_decide_is_refused_not_hung() {
    let undecided = Consumer::from_async("undecided", |_m: Message| async { Ok::<(), Error>(()) });
    let (server, _) =
        start(Routing::new().route(Route::to("websocket.connect", None, undecided))).await;
    assert_eq!(refused_status(server.local_addr(), "/").await, 403);
}

#[tokio::test]
async fn a_failing_connect_consumer_gives_500() {
    let failing = Consumer::from_async("failing", |_m: Message| async {
        Err::<(), _>(Error::InvalidMessage("boom".into()))
    });
    let (server, _) =
        start(Routing::new().route(Route::to("websocket.connect", None, failing))).await;
    assert_eq!(refused_status(server.local_addr(), "/").await, 500);
}

#[tokio::test]
async fn a_panicking_connect_consumer_gives_500_and_the_server_lives_on() {
    let panicking = Consumer::from_async("panicking", |m: Message| async move {
        if m.path() == "/boom/" {
            panic!("connect exploded");
        }
        m.reply_channel.accept().await
    });
    let routing = Routing::new()
        .route(Route::to("websocket.connect", None, panicking))
        .route(receive_echo());
    let (server, _) = start(routing).await;
    assert_eq!(refused_status(server.local_addr(), "/boom/").await, 500);
    let mut ws = connect(server.local_addr(), "/fine/").await;
    send_text(&mut ws, "still here").await;
    assert_eq!(next_text(&mut ws).await, "still here");
}

#[tokio::test]
async fn unknown_path_is_404_before_any_upgrade() {
    let routing = Routing::new().route(Route::to(
        "websocket.receive",
        Some(r"^/chat/$"),
        Consumer::from_async("chat", |_m: Message| async {}),
    ));
    let (server, _) = start(routing).await;
    assert_eq!(refused_status(server.local_addr(), "/other/").await, 404);
    connect(server.local_addr(), "/chat/").await;
}

/// A routing whose receive consumer fails on "fail", panics on "panic", echoes otherwise, and whose
/// disconnect consumer reports the close code it saw.
fn failing_routing(disconnects: mpsc::UnboundedSender<Option<u16>>) -> Routing {
    let receive = Consumer::from_async("receive", |m: Message| async move {
        match m.text() {
            Some("fail") => Err(Error::InvalidMessage("asked to fail".into())),
            Some("panic") => panic!("asked to panic"),
            other => {
                m.reply_channel
                    .send_text(other.unwrap_or_default().to_owned())
                    .await
            }
        }
    });
    let disconnect = Consumer::from_async("disconnect", move |m: Message| {
        let disconnects = disconnects.clone();
        async move {
            let _ = disconnects.send(m.content.code());
        }
    });
    Routing::new()
        .route(Route::to("websocket.receive", None, receive))
        .route(Route::to("websocket.disconnect", None, disconnect))
}

#[tokio::test]
async fn a_receive_error_closes_with_1011_and_disconnect_still_runs() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (server, _) = start(failing_routing(tx)).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "fail").await;
    assert_eq!(close_code(&mut ws).await, 1011);
    assert_eq!(rx.recv().await, Some(Some(1011)));
}

#[tokio::test]
async fn a_receive_panic_ends_only_its_own_connection() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (server, _) = start(failing_routing(tx)).await;
    let mut victim = connect(server.local_addr(), "/").await;
    let mut bystander = connect(server.local_addr(), "/").await;
    send_text(&mut victim, "panic").await;
    assert_eq!(close_code(&mut victim).await, 1011);
    assert_eq!(rx.recv().await, Some(Some(1011)));
    send_text(&mut bystander, "unaffected").await;
    assert_eq!(next_text(&mut bystander).await, "unaffected");
}

#[tokio::test]
async fn a_client_close_reaches_disconnect_with_its_code() {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (server, _) = start(failing_routing(tx)).await;
    let mut ws = connect(server.local_addr(), "/").await;
    ws.socket()
        .close(Some(CloseFrame {
            code: 4001u16.into(),
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    assert_eq!(rx.recv().await, Some(Some(4001)));
}

#[tokio::test]
async fn invalid_reply_dicts_are_errors_for_the_consumer() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let probe = Consumer::from_async("probe", move |m: Message| {
        let tx = tx.clone();
        async move {
            let result = m.reply_channel.send(json!({"txt": "typo"})).await;
            let _ = tx.send(result.map_err(|e| e.to_string()));
            m.reply_channel.send_text("done").await
        }
    });
    let (server, _) =
        start(Routing::new().route(Route::to("websocket.receive", None, probe))).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "go").await;
    assert_eq!(next_text(&mut ws).await, "done");
    let error = rx.recv().await.unwrap().unwrap_err();
    assert!(error.contains("unknown key `txt`"), "{error}");
}

#[tokio::test]
async fn sync_consumers_run_off_the_runtime_and_do_not_stall_others() {
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let blocking = Consumer::from_sync("blocking", move |m: Message| {
        if m.text() == Some("block") {
            // Blocks this thread until the test releases it.
            let _ = release_rx.lock().unwrap().recv();
        }
        m.reply_channel
            .send_text_blocking(format!("sync:{}", m.text().unwrap_or_default()))
    });
    let routing = Routing::new().route(Route::to("websocket.receive", None, blocking));
    let (server, _) = start(routing).await;
    let mut blocked = connect(server.local_addr(), "/").await;
    send_text(&mut blocked, "block").await;
    // Several other connections are served while the first one's consumer blocks its thread.
    for i in 0..4 {
        let mut other = connect(server.local_addr(), "/").await;
        send_text(&mut other, &i.to_string()).await;
        assert_eq!(next_text(&mut other).await, format!("sync:{i}"));
    }
    release_tx.send(()).unwrap();
    assert_eq!(next_text(&mut blocked).await, "sync:block");
}

#[tokio::test]
async fn events_are_numbered_in_order_connect_receives_disconnect() {
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, u64)>();
    let record = move |m: Message| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((m.channel().to_owned(), m.content.order()));
            if m.channel() == "websocket.connect" {
                m.reply_channel.accept().await?;
            } else if m.channel() == "websocket.receive" {
                m.reply_channel.send_text("ack").await?;
            }
            Ok::<(), Error>(())
        }
    };
    let consumer = Consumer::from_async("record", record);
    let routing = Routing::new()
        .route(Route::to("websocket.connect", None, consumer.clone()))
        .route(Route::to("websocket.receive", None, consumer.clone()))
        .route(Route::to("websocket.disconnect", None, consumer));
    let (server, _) = start(routing).await;
    let mut ws = connect(server.local_addr(), "/").await;
    for _ in 0..2 {
        send_text(&mut ws, "x").await;
        assert_eq!(next_text(&mut ws).await, "ack");
    }
    drop(ws);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(rx.recv().await.unwrap());
    }
    let expected = [
        ("websocket.connect", 0),
        ("websocket.receive", 1),
        ("websocket.receive", 2),
        ("websocket.disconnect", 3),
    ];
    assert_eq!(seen, expected.map(|(c, o)| (c.to_owned(), o)).to_vec());
}

#[tokio::test]
async fn shutdown_closes_connections_with_1001_and_runs_disconnect() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (server, _) = start(failing_routing(tx)).await;
    let addr = server.local_addr();
    let mut ws = connect(addr, "/").await;
    send_text(&mut ws, "before").await;
    assert_eq!(next_text(&mut ws).await, "before");
    let stopping = tokio::spawn(server.shutdown(GUARD));
    assert_eq!(close_code(&mut ws).await, 1001);
    assert_eq!(rx.recv().await, Some(Some(1001)));
    stopping.await.unwrap();
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
