//! Every connection whose connect event was dispatched gets its `websocket.disconnect`, and leaves its
//! declared groups, whatever ends it: a rejected handshake (code 1006, as Daphne), a client that resets
//! right after the handshake or while the connect consumer runs, a server shutdown (1001). An HTTP/1.0
//! upgrade is refused with 400 before any consumer runs.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use channels::ServerHandle;
use channels::layer::{ChannelLayer, Inbox, LayerConfig, LayerError, LayerMessage, async_trait};
use channels::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

use crate::common::{self, GUARD};

/// An in-memory layer that also records memberships as `group_add`/`group_discard` leave them (the
/// in-memory layer forgets a closed channel by itself; Redis keeps it until the group expiry, so a
/// missed discard must show).
#[derive(Debug, Default)]
struct Recording {
    inner: InMemoryLayer,
    members: Mutex<HashMap<String, HashSet<String>>>,
}

impl Recording {
    fn members(&self, group: &str) -> usize {
        let members = self.members.lock().expect("lock");
        members.get(group).map_or(0, HashSet::len)
    }
}

#[async_trait]
impl ChannelLayer for Recording {
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        self.inner.send(channel, message).await
    }
    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        self.inner.receive(channel).await
    }
    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        self.inner.new_channel(prefix).await
    }
    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        self.inner.group_add(group, channel).await?;
        let mut members = self.members.lock().expect("lock");
        members
            .entry(group.to_owned())
            .or_default()
            .insert(channel.to_owned());
        Ok(())
    }
    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        self.inner.group_discard(group, channel).await?;
        let mut members = self.members.lock().expect("lock");
        if let Some(set) = members.get_mut(group) {
            set.remove(channel);
        }
        Ok(())
    }
    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
        self.inner.group_send(group, message).await
    }
    fn config(&self) -> &LayerConfig {
        self.inner.config()
    }
}

/// What the consumers saw: connects (path) and disconnects (path, code).
struct Seen {
    connects: mpsc::UnboundedReceiver<String>,
    disconnects: mpsc::UnboundedReceiver<(String, u16)>,
    /// Lets the `/hold/` connect consumer accept.
    release: Arc<Notify>,
}

/// `/accept/` accepts, `/reject/` rejects, `/hold/` accepts when the test says; every route declares
/// group `g`.
fn routing() -> (Routing, Seen) {
    let (connected, connects) = mpsc::unbounded_channel();
    let (disconnected, disconnects) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let hold = release.clone();
    let connect = Consumer::from_async("connect", move |m: Message| {
        let connected = connected.clone();
        let hold = hold.clone();
        async move {
            let path = m.path().to_owned();
            let _ = connected.send(path.clone());
            match path.as_str() {
                "/reject/" => m.reply_channel.reject().await,
                "/hold/" => {
                    hold.notified().await;
                    m.reply_channel.accept().await
                }
                _ => m.reply_channel.accept().await,
            }
        }
    });
    let disconnect = Consumer::from_async("disconnect", move |m: Message| {
        let disconnected = disconnected.clone();
        async move {
            let code = m.content.code().unwrap_or_default();
            let _ = disconnected.send((m.path().to_owned(), code));
            Ok::<(), Error>(())
        }
    });
    let routing = Routing::new()
        .route(Route::to("websocket.connect", None, connect).with_groups(["g"]))
        .route(Route::to("websocket.disconnect", None, disconnect).with_groups(["g"]));
    let seen = Seen {
        connects,
        disconnects,
        release,
    };
    (routing, seen)
}

async fn start() -> (ServerHandle, Arc<Recording>, Seen) {
    let layer = Arc::new(Recording::default());
    let (routing, seen) = routing();
    let server = Server::new(routing)
        .with_layer(layer.clone())
        .spawn("127.0.0.1:0")
        .await
        .expect("server starts");
    (server, layer, seen)
}

async fn next_disconnect(seen: &mut Seen) -> (String, u16) {
    tokio::time::timeout(GUARD, seen.disconnects.recv())
        .await
        .expect("a disconnect in time")
        .expect("the server is alive")
}

fn upgrade_request(addr: SocketAddr, path: &str, version: &str) -> String {
    format!(
        "GET {path} {version}\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Resets the connection (RST, not FIN): what a crashed client or a dropped network looks like.
fn reset(stream: TcpStream) {
    stream.set_zero_linger().expect("SO_LINGER");
    drop(stream);
}

#[tokio::test]
async fn a_rejected_handshake_runs_the_disconnect_consumer_with_1006() {
    let (server, layer, mut seen) = start().await;
    assert_eq!(
        common::refused_status(server.local_addr(), "/reject/").await,
        403
    );
    assert_eq!(next_disconnect(&mut seen).await, ("/reject/".into(), 1006));
    server.wait_for_connections(0).await;
    assert_eq!(layer.members("g"), 0);
}

#[tokio::test]
async fn an_http_1_0_upgrade_is_refused_before_any_consumer_runs() {
    let (server, layer, mut seen) = start().await;
    let request = upgrade_request(server.local_addr(), "/accept/", "HTTP/1.0");
    let (status, _) = common::raw_request(server.local_addr(), request.as_bytes()).await;
    assert_eq!(status, 400);
    server.wait_for_connections(0).await;
    assert!(seen.connects.try_recv().is_err(), "no connect consumer ran");
    assert!(
        seen.disconnects.try_recv().is_err(),
        "no disconnect is owed"
    );
    assert_eq!(layer.members("g"), 0);
}

/// The reset reaches the server after the 101: the connection's first read fails.
#[tokio::test]
async fn a_client_that_resets_right_after_the_handshake_gets_its_disconnect() {
    let (server, layer, mut seen) = start().await;
    const CLIENTS: usize = 50;
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        let request = upgrade_request(server.local_addr(), "/accept/", "HTTP/1.1");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut head = [0u8; 12];
        tokio::time::timeout(GUARD, stream.read_exact(&mut head))
            .await
            .expect("answer in time")
            .expect("read");
        assert_eq!(&head, b"HTTP/1.1 101");
        reset(stream);
    }
    for _ in 0..CLIENTS {
        let (path, code) = next_disconnect(&mut seen).await;
        assert_eq!(path, "/accept/");
        assert_eq!(code, 1006);
    }
    server.wait_for_connections(0).await;
    assert_eq!(layer.members("g"), 0);
}

/// The reset reaches the server while the connect consumer runs: the upgrade then fails (the 101 can't be
/// written), or hyper drops the handshake if it notices first. This is the way the old runtime skipped
/// the disconnect (an upgrade that failed, also every HTTP/1.0 upgrade).
#[tokio::test]
async fn a_client_that_goes_away_while_connect_runs_gets_its_disconnect() {
    let (server, layer, mut seen) = start().await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let request = upgrade_request(server.local_addr(), "/hold/", "HTTP/1.1");
    stream.write_all(request.as_bytes()).await.expect("write");
    let path = tokio::time::timeout(GUARD, seen.connects.recv())
        .await
        .expect("connect consumer in time");
    assert_eq!(path.as_deref(), Some("/hold/"));
    assert_eq!(layer.members("g"), 1, "joined before connect runs");
    reset(stream);
    // Whether the server notices the reset while the consumer waits (the handshake is dropped) or
    // when the 101 can't be written (the upgrade fails), the disconnect runs.
    seen.release.notify_one();
    assert_eq!(next_disconnect(&mut seen).await, ("/hold/".into(), 1006));
    server.wait_for_connections(0).await;
    assert_eq!(layer.members("g"), 0);
}

#[tokio::test]
async fn a_server_shutdown_runs_every_disconnect_with_1001() {
    let (server, layer, mut seen) = start().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut ws = common::connect(server.local_addr(), "/accept/").await;
        clients.push(tokio::spawn(
            async move { common::close_code(&mut ws).await },
        ));
    }
    assert_eq!(layer.members("g"), 3);
    server.shutdown(GUARD).await;
    for client in clients {
        assert_eq!(client.await.expect("client"), 1001);
    }
    for _ in 0..3 {
        assert_eq!(next_disconnect(&mut seen).await, ("/accept/".into(), 1001));
    }
    assert_eq!(layer.members("g"), 0);
}
