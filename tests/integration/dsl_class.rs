//! `route_class` over real sockets: one instance per connection, typed events by `type`.

use crate::common;

use channels::prelude::*;
use common::{connect, next_text, send_text, start};

#[derive(serde::Deserialize)]
struct Shout {
    text: String,
}

struct Counter {
    room: String,
    count: u32,
}

#[consumer(groups = ["counter.{room}"])]
impl Counter {
    fn new(room: String) -> Self {
        Counter { room, count: 0 }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        self.count = 100;
        message.reply_channel.accept().await
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        self.count += 1;
        match message.text() {
            Some("shout") => {
                Group::new(format!("counter.{}", self.room))?
                    .send(json!({"type": "room.shout", "text": format!("from {}", self.count)}))
                    .await
            }
            Some("bogus") => {
                Group::new(format!("counter.{}", self.room))?
                    .send(json!({"type": "no.such.handler"}))
                    .await?;
                message.reply_channel.send_text("sent bogus").await
            }
            _ => {
                let reply = format!("{} {}", self.room, self.count);
                message.reply_channel.send_text(reply).await
            }
        }
    }

    async fn room_shout(&mut self, message: Message, event: Shout) -> Result<()> {
        message
            .reply_channel
            .send_text(format!(
                "{} heard {} at {}",
                self.room, event.text, self.count
            ))
            .await
    }
}

#[derive(Default)]
struct Plain {
    seen: u32,
}

#[consumer]
impl Plain {
    fn receive(&mut self, message: Message) -> Result<()> {
        self.seen += 1;
        message
            .reply_channel
            .send_text_blocking(format!("plain {}", self.seen))
    }
}

channel_routing! {
    route_class(Counter, path = r"^/count/(?P<room>\w+)/$"),
    route_class(Plain, path = r"^/plain/$"),
}

#[tokio::test]
async fn each_connection_has_its_own_instance() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut a = connect(addr, "/count/a/").await;
    let mut b = connect(addr, "/count/b/").await;
    send_text(&mut a, "x").await;
    assert_eq!(next_text(&mut a).await, "a 101");
    send_text(&mut a, "x").await;
    assert_eq!(next_text(&mut a).await, "a 102");
    send_text(&mut b, "x").await;
    assert_eq!(next_text(&mut b).await, "b 101");
    send_text(&mut a, "x").await;
    assert_eq!(next_text(&mut a).await, "a 103");
}

#[tokio::test]
async fn default_instance_and_sync_methods() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut a = connect(addr, "/plain/").await;
    let mut b = connect(addr, "/plain/").await;
    send_text(&mut a, "x").await;
    assert_eq!(next_text(&mut a).await, "plain 1");
    send_text(&mut a, "x").await;
    assert_eq!(next_text(&mut a).await, "plain 2");
    send_text(&mut b, "x").await;
    assert_eq!(next_text(&mut b).await, "plain 1");
}

#[tokio::test]
async fn typed_events_reach_their_handler_with_the_instance_state() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut a = connect(addr, "/count/same/").await;
    let mut b = connect(addr, "/count/same/").await;
    send_text(&mut b, "x").await;
    assert_eq!(next_text(&mut b).await, "same 101");
    send_text(&mut a, "shout").await;
    // Both members of `counter.same` get the event, each handled with its own state.
    assert_eq!(next_text(&mut a).await, "same heard from 101 at 101");
    assert_eq!(next_text(&mut b).await, "same heard from 101 at 101");
}

#[tokio::test]
async fn an_event_without_handler_closes_with_1011_as_in_channels_4() {
    let (server, _layer) = start(channel_routing()).await;
    let mut a = connect(server.local_addr(), "/count/drop/").await;
    send_text(&mut a, "bogus").await;
    assert_eq!(next_text(&mut a).await, "sent bogus");
    // Channels 4 raises `ValueError: No handler for message type` and closes (errors_modes.rs has
    // Channels 1.x's "log and keep open").
    assert_eq!(common::close_code(&mut a).await, 1011);
}
