//! One `http.request` from its consumer's first run to the end of its response: the task that reads the
//! reply channel, answers, streams, dispatches typed events to the consumer and notices the client
//! leaving.
//!
//! A request is *waiting* until its response starts: a whole response (`respond`) ends it; a head
//! (`http.response.start`) makes it *streaming*. A waiting request whose consumer returns without
//! answering gets a 500, unless the consumer *held* it (`http.response.hold`, long-poll). While a request
//! is held or streaming, typed events sent to its reply channel run its consumer again, one at a time,
//! and the client leaving runs it once more with `http.disconnect` (so does any other end that is not
//! the consumer's own: timeout, slow client, shutdown, failure), after its reply channel has closed (which
//! leaves its groups in this process).
//!
//! The `http_timeout` bounds only the wait for a response to start: a stream, once started, lasts until
//! its body ends or its client leaves.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::body;
use super::{BoxError, ResponseBody, plain, to_hyper, whole, with_head};
use crate::http::{HttpPart, http_events, http_part};
use crate::layer::queue::cost_of;
use crate::layer::{Inbox, LayerMessage};
use crate::message::{MessageBuilder, Scope, events};
use crate::routing::Consumer;
use crate::server::Shared;
use crate::server::invoke::{self, Failure, RunFuture};
use crate::{Message, ReplyChannel};

/// One request's state, owned by its task.
pub(super) struct Exchange {
    shared: Arc<Shared>,
    consumer: Consumer,
    scope: Arc<Scope>,
    inbox: Inbox,
    reply: ReplyChannel,
    phase: Phase,
    /// The consumer run in progress, and the event it handles (for logs).
    run: Option<(RunFuture, &'static str)>,
    /// Typed events waiting for the consumer.
    events: VecDeque<(String, Arc<Map<String, Value>>)>,
    /// The consumer asked to keep the request open after it returns.
    held: bool,
    /// Body chunks taken from the reply channel, not yet handed to hyper, with the budget bytes they hold.
    chunks: VecDeque<(Bytes, usize)>,
    /// The last chunk is in `chunks` (or handed over): the body ends once they are.
    ending: bool,
}

enum Phase {
    Waiting(oneshot::Sender<Response<ResponseBody>>),
    Streaming(body::Sender),
    Over,
}

/// What woke the task.
enum Step {
    Message(LayerMessage),
    Ran(Result<(), Failure>),
    /// The streaming body has room for more chunks.
    Room,
    /// The client left (hyper dropped the request or the body).
    Left,
    Timeout,
    /// The reply channel went past its byte budget (a slow client) and was closed for it.
    Slow,
    Shutdown,
}

/// How the exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The consumer answered with a whole response, or ended its stream's body.
    Done,
    /// The consumer returned without answering or holding (500 sent).
    Unanswered,
    /// Anything else: the reason, for the log. A held or streaming request owes its consumer
    /// `http.disconnect`.
    Cut(&'static str),
}

impl Exchange {
    pub(super) fn new(
        shared: Arc<Shared>,
        consumer: Consumer,
        scope: Arc<Scope>,
        inbox: Inbox,
        reply: ReplyChannel,
        answer: oneshot::Sender<Response<ResponseBody>>,
    ) -> Self {
        Exchange {
            shared,
            consumer,
            scope,
            inbox,
            reply,
            phase: Phase::Waiting(answer),
            run: None,
            events: VecDeque::new(),
            held: false,
            chunks: VecDeque::new(),
            ending: false,
        }
    }

    /// Runs the consumer with `message` (the `http.request`), then serves the exchange to its end.
    pub(super) async fn serve(mut self, message: Message) {
        self.run = Some((
            invoke::start(&self.consumer, message, &self.shared.layer),
            events::HTTP_REQUEST,
        ));
        let deadline = tokio::time::sleep(self.shared.config.http_timeout);
        tokio::pin!(deadline);
        let shutdown = self.shared.shutdown.clone();
        let end = loop {
            self.next_event();
            let raised = shutdown.raised();
            let step = if shutdown.is_raised() {
                Step::Shutdown
            } else {
                let waiting = matches!(self.phase, Phase::Waiting(_));
                let queue = self.inbox.queue().clone();
                let has_chunks = !self.chunks.is_empty();
                tokio::select! {
                    biased;
                    () = std::future::poll_fn(|cx| queue.poll_overflow(cx)) => Step::Slow,
                    message = self.inbox.recv() => Step::Message(message),
                    outcome = running(&mut self.run) => Step::Ran(outcome),
                    step = client(&mut self.phase, has_chunks) => step,
                    () = &mut deadline, if waiting => Step::Timeout,
                    () = raised => Step::Shutdown,
                }
            };
            if let Some(end) = self.step(step) {
                break end;
            }
            // A flood on the reply channel is always ready: give the other tasks of this thread a turn.
            tokio::task::coop::consume_budget().await;
        };
        self.finish(end).await;
    }

    /// Starts the next typed event's run, when the consumer is free and the request takes events.
    fn next_event(&mut self) {
        let takes_events = self.held || matches!(self.phase, Phase::Streaming(_));
        if self.run.is_some() || !takes_events {
            return;
        }
        if let Some((kind, payload)) = self.events.pop_front() {
            let message = MessageBuilder::new(kind, self.scope.clone())
                .payload(payload)
                .build(self.reply.clone());
            self.run = Some((
                invoke::start(&self.consumer, message, &self.shared.layer),
                "event",
            ));
        }
    }

    fn step(&mut self, step: Step) -> Option<End> {
        match step {
            Step::Message(message) => {
                let cost = cost_of(&message);
                self.message(message, cost)
            }
            Step::Ran(outcome) => {
                let event = self.run.take().map_or("event", |(_, event)| event);
                // What the run sent in its last poll is in the reply channel already: act on it first (a
                // consumer that starts its response and returns has not returned "without answering").
                while let Some(message) = self.inbox.try_recv() {
                    let cost = cost_of(&message);
                    if let Some(end) = self.message(message, cost) {
                        if let Err(failure) = &outcome {
                            invoke::log_failure(self.consumer.name(), event, failure);
                        }
                        return Some(end);
                    }
                }
                self.ran(event, outcome)
            }
            Step::Room => self.flush(),
            Step::Left => Some(End::Cut("client left")),
            Step::Timeout => {
                tracing::warn!(consumer = self.consumer.name(), timeout = ?self.shared.config.http_timeout, "http.request consumer did not respond in time");
                self.answer(
                    plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").map(whole),
                );
                Some(End::Cut("timed out"))
            }
            Step::Slow => {
                tracing::warn!(
                    channel = self.inbox.name(),
                    "slow client: a streaming response went past its outbound budget; aborting it"
                );
                Some(End::Cut("slow client: outbound budget exceeded"))
            }
            Step::Shutdown => Some(End::Cut("server shutting down")),
        }
    }

    /// Acts on one message from the reply channel; it holds `cost` bytes of the budget.
    fn message(&mut self, message: LayerMessage, cost: usize) -> Option<End> {
        let part = match http_part(message) {
            Ok(part) => part,
            Err(reason) => {
                self.release(cost);
                tracing::warn!(consumer = self.consumer.name(), %reason, "message dropped");
                return None;
            }
        };
        let streaming = matches!(self.phase, Phase::Streaming(_));
        if !matches!(part, HttpPart::Chunk(..)) {
            self.release(cost);
        }
        match part {
            HttpPart::Whole(response) if !streaming => {
                self.answer(to_hyper(&response));
                Some(End::Done)
            }
            HttpPart::Start(head) if !streaming => {
                let (sender, body) = body::channel();
                let body = http_body_util::BodyExt::map_err(body, |aborted| -> BoxError {
                    Box::new(aborted)
                });
                let response = with_head(&head, http_body_util::BodyExt::boxed_unsync(body));
                if !self.answer(response) {
                    return Some(End::Cut("client left"));
                }
                self.phase = Phase::Streaming(sender);
                None
            }
            HttpPart::Whole(_) | HttpPart::Start(_) => {
                tracing::warn!(
                    consumer = self.consumer.name(),
                    "a response was sent after this one started streaming; dropped"
                );
                None
            }
            HttpPart::Chunk(chunk, more) if streaming && !self.ending => {
                if chunk.is_empty() {
                    self.release(cost);
                } else {
                    self.chunks.push_back((chunk, cost));
                }
                self.ending = !more;
                self.flush()
            }
            HttpPart::Chunk(..) => {
                self.release(cost);
                if self.ending || self.held {
                    // A group's text reaching a long-poll that shares the group with streams, or a
                    // chunk racing the body's end: expected traffic, not a bug.
                    tracing::debug!(
                        consumer = self.consumer.name(),
                        "body chunk for a response that is not streaming; dropped"
                    );
                } else {
                    tracing::warn!(
                        consumer = self.consumer.name(),
                        "body chunk sent before the response started (send http.response.start first); dropped"
                    );
                }
                None
            }
            HttpPart::End if streaming => {
                self.ending = true;
                self.flush()
            }
            HttpPart::End => {
                tracing::warn!(
                    consumer = self.consumer.name(),
                    "end of body sent before the response started; dropped"
                );
                None
            }
            HttpPart::Hold => {
                self.held = true;
                None
            }
            HttpPart::Event(kind, payload) => {
                if self.events.len() >= self.shared.config.max_pending_events.saturating_mul(4) {
                    tracing::warn!(channel = self.inbox.name(), event = %kind, "request's event backlog is full; event dropped");
                } else {
                    self.events.push_back((kind, payload));
                }
                None
            }
        }
    }

    /// A consumer run ended.
    fn ran(&mut self, event: &'static str, outcome: Result<(), Failure>) -> Option<End> {
        let name = self.consumer.name();
        match outcome {
            Err(failure) => {
                invoke::log_failure(name, event, &failure);
                if matches!(&failure, Failure::Error(error) if error.keeps_connection_open()) {
                    return None;
                }
                self.answer(
                    plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").map(whole),
                );
                Some(End::Cut("consumer failed"))
            }
            Ok(()) if matches!(self.phase, Phase::Waiting(_)) && !self.held => {
                tracing::error!(
                    consumer = name,
                    "http.request consumer returned without responding; call message.reply_channel.respond(..) \
                     (or start_response, or hold_response to answer later)"
                );
                self.answer(
                    plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").map(whole),
                );
                Some(End::Unanswered)
            }
            Ok(()) => None,
        }
    }

    /// Hands the chunks taken so far to the body, as far as it has room; the body ends after the last.
    fn flush(&mut self) -> Option<End> {
        let Phase::Streaming(sender) = &self.phase else {
            return None;
        };
        while let Some((chunk, cost)) = self.chunks.pop_front() {
            match sender.try_send(chunk) {
                Ok(()) => self.inbox.queue().release(cost),
                Err(Some(chunk)) => {
                    self.chunks.push_front((chunk, cost));
                    return None;
                }
                Err(None) => {
                    self.inbox.queue().release(cost);
                    return Some(End::Cut("client left"));
                }
            }
        }
        self.ending.then_some(End::Done)
    }

    /// Sends the answer of a waiting request (nothing when it is not waiting any more); `false` when the
    /// client has left.
    fn answer(&mut self, response: Response<ResponseBody>) -> bool {
        if !matches!(self.phase, Phase::Waiting(_)) {
            return false;
        }
        match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Waiting(answer) => answer.send(response).is_ok(),
            _ => false,
        }
    }

    fn release(&self, cost: usize) {
        self.inbox.queue().release(cost);
    }

    /// Ends the exchange: the body (cleanly, or cut short), the consumer's `http.disconnect` when it is
    /// owed, and the reply channel (which leaves its groups).
    async fn finish(mut self, end: End) {
        let owed = self.held || matches!(self.phase, Phase::Streaming(_));
        let phase = std::mem::replace(&mut self.phase, Phase::Over);
        match (end, phase) {
            (End::Done | End::Unanswered, phase) => {
                let Exchange {
                    inbox,
                    run,
                    consumer,
                    ..
                } = self;
                // Later sends to the reply channel fail with `Disconnected`, and it has left its groups
                // by the time the client sees the body's end; a consumer that goes on working finishes
                // here.
                drop(inbox);
                drop(phase); // a streaming body ends cleanly
                if let Some((run, event)) = run
                    && let Err(failure) = run.await
                {
                    invoke::log_failure(consumer.name(), event, &failure);
                }
                return;
            }
            (End::Cut(reason), Phase::Streaming(sender)) => {
                if reason == "server shutting down" {
                    drop(sender); // the body ends cleanly: the client has all it was sent
                } else {
                    sender.abort(reason);
                }
            }
            (End::Cut(_), Phase::Waiting(answer)) => {
                let _ = answer
                    .send(plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").map(whole));
            }
            (End::Cut(_), Phase::Over) => {}
        }
        let End::Cut(reason) = end else { return };
        let Exchange {
            shared,
            consumer,
            scope,
            inbox,
            reply,
            run,
            ..
        } = self;
        // The run in progress is cancelled, as a WebSocket's is when its connection closes; the reply
        // channel closes, which leaves its groups in this process, before `http.disconnect` runs.
        drop(run);
        drop(inbox);
        if owed {
            tracing::debug!(
                consumer = consumer.name(),
                reason,
                "http request ended; dispatching http.disconnect"
            );
            let message = MessageBuilder::new(http_events::DISCONNECT, scope).build(reply);
            if let Err(failure) = invoke::start(&consumer, message, &shared.layer).await {
                invoke::log_failure(consumer.name(), http_events::DISCONNECT, &failure);
            }
        }
    }
}

/// The run in progress, or never.
async fn running(run: &mut Option<(RunFuture, &'static str)>) -> Result<(), Failure> {
    match run {
        Some((run, _)) => run.await,
        None => std::future::pending().await,
    }
}

/// What the client side can tell: it left (hyper dropped the request or the body), or the body has room
/// for the chunks that wait.
async fn client(phase: &mut Phase, has_chunks: bool) -> Step {
    match phase {
        Phase::Waiting(answer) => {
            answer.closed().await;
            Step::Left
        }
        Phase::Streaming(sender) if has_chunks => {
            if sender.room().await {
                Step::Room
            } else {
                Step::Left
            }
        }
        Phase::Streaming(sender) => {
            sender.closed().await;
            Step::Left
        }
        Phase::Over => std::future::pending().await,
    }
}
