//! Run: `cargo run --release --example sse -- --bind 127.0.0.1:8000 --interval-ms 1000`, then open
//! http://127.0.0.1:8000/ (or `curl -N http://127.0.0.1:8000/events/`). `--unix PATH` serves on a Unix
//! socket instead; with `--features tls`, `--tls-cert cert.pem --tls-key key.pem` serves https://.
//!
//! HTTP responses that stay open and take group events, which Channels' `AsyncHttpConsumer` can't do
//! while it streams (channels#1747): `GET /events/` is a server-sent event stream that writes one event per
//! message sent to group "events" (a clock ticks into it, `POST /publish/` publishes into it);
//! `GET /poll/` is a long-poll, answered by the next message the group gets.
use std::time::Duration;

use channels::prelude::*;
use clap::Parser;

mod common;

const PAGE: &str = include_str!("static/sse.html");

/// The biggest message `POST /publish/` takes; a longer body is cut (a real app sets its own limits).
const MAX_PUBLISH: usize = 1024;

#[derive(Debug, Parser)]
struct SseArgs {
    #[command(flatten)]
    common: common::Args,
    /// Milliseconds between two clock ticks sent to group "events" (0: no clock).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
}

#[consumer]
async fn index(message: Message) -> Result<()> {
    message
        .reply_channel
        .respond(HttpResponse::html(PAGE))
        .await
}

/// `GET /events/`: the stream. It runs for the request, once for each event sent to group "events" while
/// the stream is open, and once with `http.disconnect` when the client leaves.
#[consumer]
async fn events(message: Message) -> Result<()> {
    let reply = &message.reply_channel;
    match message.channel() {
        "http.request" => {
            let head = HttpResponse::new(200, "")
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache");
            group!("events").add(reply).await?;
            reply.start_response(head).await?;
            // A comment line first: the client sees the stream open (and joined) before the first event.
            reply.send_body(": open\n\n").await
        }
        "clock.tick" => {
            let data = json!({"tick": message.content["tick"], "at_ms": message.content["at_ms"]});
            reply
                .send_body(format!("event: tick\ndata: {data}\n\n"))
                .await
        }
        "events.message" => {
            let text = message.content["text"].as_str().unwrap_or_default();
            reply.send_body(sse_data(text)).await
        }
        // http.disconnect: the client left. The server has closed the reply channel, which left the group in
        // this process; discarding it too clears its membership on a layer shared between processes.
        _ => group!("events").discard(reply).await,
    }
}

/// `GET /poll/`: answered by the next message sent to group "events".
#[consumer]
async fn poll(message: Message) -> Result<()> {
    let reply = &message.reply_channel;
    match message.channel() {
        "http.request" => {
            group!("events").add(reply).await?;
            reply.hold_response().await
        }
        "events.message" => {
            let text = message.content["text"].as_str().unwrap_or_default();
            reply.respond(HttpResponse::text(text.to_owned())).await
        }
        "clock.tick" => Ok(()), // waits for a published message
        _ => group!("events").discard(reply).await,
    }
}

/// `POST /publish/` with a text body: sends it to group "events".
#[consumer]
async fn publish(message: Message) -> Result<()> {
    if message.content.method() != "POST" {
        return message
            .reply_channel
            .respond(HttpResponse::new(405, "POST a text body\n"))
            .await;
    }
    let body = message.content.bytes().cloned().unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_PUBLISH)]).into_owned();
    group!("events")
        .send(json!({"type": "events.message", "text": text}))
        .await?;
    message
        .reply_channel
        .respond(HttpResponse::new(204, ""))
        .await
}

/// One SSE event whose data is `text` (one `data:` line per line of it).
fn sse_data(text: &str) -> String {
    let mut event = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        event.push_str("data: ");
        event.push_str(line);
        event.push('\n');
    }
    if text.is_empty() {
        event.push_str("data: \n");
    }
    event.push('\n');
    event
}

channel_routing! {
    "http.request", path = r"^/$" => index,
    "http.request", path = r"^/events/$" => events,
    "http.request", path = r"^/poll/$" => poll,
    "http.request", path = r"^/publish/$" => publish,
}

/// Sends `{"type": "clock.tick", "tick": n, "at_ms": <unix ms>}` to group "events" every `interval`.
pub async fn clock(events: Group, interval: Duration) {
    common::ticks::every(interval, |n, at_ms| {
        let events = events.clone();
        async move {
            events
                .send(json!({"type": "clock.tick", "tick": n, "at_ms": at_ms}))
                .await
        }
    })
    .await
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = SseArgs::parse();
    common::init_logging();
    let server = args.common.server(channel_routing()).await?;
    if args.interval_ms > 0 {
        let events = group!("events").with_layer(server.layer());
        tokio::spawn(clock(events, Duration::from_millis(args.interval_ms)));
    }
    args.common.run(server).await?;
    Ok(())
}

/// clap checks its options only when they are parsed, and in debug builds: catch a clash here, in the
/// integration tests that compile this example as a module.
#[cfg(test)]
#[test]
fn options_do_not_clash() {
    use clap::CommandFactory;
    SseArgs::command().debug_assert();
}
