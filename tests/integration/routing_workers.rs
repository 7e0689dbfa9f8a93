//! Class-based consumers and custom channels in one Channels 1.x table: a path-less `route_class` takes
//! only `websocket.*` events, so a custom channel routed after it reaches its own consumer (issue 6), and
//! `route_class(Type, channel = "...")` serves a worker channel with one instance, by `type`.

use crate::common;

use channels::prelude::*;
use common::{connect, next_text, send_text, start};

/// Every WebSocket event of every path; a member of `jobs`, told when a job is done.
#[derive(Default)]
struct Echo;

#[consumer(groups = ["jobs"])]
impl Echo {
    async fn receive(&mut self, message: Message) -> Result<()> {
        let text = format!("echo {}", message.text().unwrap_or_default());
        message.reply_channel.send_text(text).await
    }

    async fn job_done(&mut self, message: Message, event: serde_json::Value) -> Result<()> {
        let text = format!("done {}", event["id"]);
        message.reply_channel.send_text(text).await
    }
}

/// A custom channel's function consumer, routed after the path-less class.
#[consumer]
async fn run_job(message: Message) -> Result<()> {
    group!("jobs")
        .send(json!({"type": "job.done", "id": message["id"]}))
        .await
}

/// A worker class on a Channels 1.x table: one instance for the channel, a handler per `type`.
#[derive(Default)]
struct Counter {
    counted: u32,
}

#[consumer]
impl Counter {
    fn count(&mut self, message: Message) -> Result<()> {
        self.counted += 1;
        let id = format!(
            "{} #{}",
            message["id"].as_str().unwrap_or_default(),
            self.counted
        );
        group!("jobs").send_blocking(json!({"type": "job.done", "id": id}))
    }
}

channel_routing! {
    route_class(Echo),
    "jobs.run" => run_job,
    route_class(Counter, channel = "jobs.count"),
}

#[tokio::test]
async fn a_custom_channel_after_a_pathless_class_reaches_its_consumer() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/anywhere/").await;
    send_text(&mut ws, "hi").await;
    assert_eq!(next_text(&mut ws).await, "echo hi");
    Channel::new("jobs.run")
        .expect("a valid name")
        .with_layer(server.layer())
        .send(json!({"id": 7}))
        .await
        .expect("sent");
    assert_eq!(next_text(&mut ws).await, "done 7");
}

#[tokio::test]
async fn route_class_serves_a_worker_channel_by_type() {
    let (server, _layer) = start(channel_routing()).await;
    let mut ws = connect(server.local_addr(), "/").await;
    send_text(&mut ws, "ready").await;
    assert_eq!(next_text(&mut ws).await, "echo ready");
    let count = Channel::new("jobs.count")
        .expect("a valid name")
        .with_layer(server.layer());
    for id in ["a", "b"] {
        count
            .send(json!({"type": "count", "id": id}))
            .await
            .expect("sent");
    }
    assert_eq!(next_text(&mut ws).await, r#"done "a #1""#);
    assert_eq!(next_text(&mut ws).await, r#"done "b #2""#);
}
