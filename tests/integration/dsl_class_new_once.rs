//! `route_class`: a class-based consumer's `new` runs once per connection, and that one instance gets
//! every event of the connection (connect, receive, disconnect). Matching a route only parses its
//! captures: a path whose captures don't parse creates no instance.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common;

use channels::prelude::*;
use common::{GUARD, connect, next_text, refused_status, send_text, start};

/// `Tally::new` calls, so far.
static TALLY_NEWS: AtomicUsize = AtomicUsize::new(0);
/// Disconnects handled by an instance that had handled its connection's connect.
static TALLY_CLOSED_AFTER_CONNECT: AtomicUsize = AtomicUsize::new(0);

struct Tally {
    id: usize,
    room: String,
    connected: bool,
}

#[consumer]
impl Tally {
    fn new(room: String) -> Self {
        let id = TALLY_NEWS.fetch_add(1, Ordering::SeqCst) + 1;
        Tally {
            id,
            room,
            connected: false,
        }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        self.connected = true;
        message.reply_channel.accept().await
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        let reply = format!("{} {} {}", self.room, self.id, self.connected);
        message.reply_channel.send_text(reply).await
    }

    async fn disconnect(&mut self, _message: Message) -> Result<()> {
        if self.connected {
            TALLY_CLOSED_AFTER_CONNECT.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// `Numbered::new` calls, so far.
static NUMBERED_NEWS: AtomicUsize = AtomicUsize::new(0);

struct Numbered {
    n: u32,
}

#[consumer]
impl Numbered {
    fn new(n: u32) -> Self {
        NUMBERED_NEWS.fetch_add(1, Ordering::SeqCst);
        Numbered { n }
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text(self.n.to_string()).await
    }
}

channel_routing! {
    route_class(Tally, path = r"^/tally/(?P<room>\w+)/$"),
    route_class(Numbered, path = r"^/numbered/(?P<n>\w+)/$"),
}

#[tokio::test]
async fn new_runs_once_per_connection() {
    const CONNECTIONS: usize = 5;
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let mut client = connect(addr, &format!("/tally/r{i}/")).await;
        send_text(&mut client, "x").await;
        // The receive handler sees the instance that handled connect.
        let reply = next_text(&mut client).await;
        assert!(reply.starts_with(&format!("r{i} ")), "{reply}");
        assert!(reply.ends_with(" true"), "{reply}");
        clients.push(client);
    }
    assert_eq!(TALLY_NEWS.load(Ordering::SeqCst), CONNECTIONS);
    for client in clients {
        client.disconnect().await.expect("clean close");
    }
    tokio::time::timeout(GUARD, server.wait_for_connections(0))
        .await
        .expect("every connection ends");
    // Closing made no instance, and each disconnect went to its connection's instance.
    assert_eq!(TALLY_NEWS.load(Ordering::SeqCst), CONNECTIONS);
    assert_eq!(
        TALLY_CLOSED_AFTER_CONNECT.load(Ordering::SeqCst),
        CONNECTIONS
    );
}

#[tokio::test]
async fn a_capture_that_does_not_parse_creates_no_instance() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    assert_eq!(refused_status(addr, "/numbered/abc/").await, 404);
    assert_eq!(NUMBERED_NEWS.load(Ordering::SeqCst), 0);
    let mut client = connect(addr, "/numbered/7/").await;
    send_text(&mut client, "x").await;
    assert_eq!(next_text(&mut client).await, "7");
    assert_eq!(NUMBERED_NEWS.load(Ordering::SeqCst), 1);
}
