//! Running one consumer invocation: async ones on the caller's task with panics caught, sync ones on
//! tokio's blocking pool.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::layer::ChannelLayer;
use crate::routing::{Consumer, ConsumerError, ConsumerFuture, Invocation};
use crate::session::sync::{Plan, SessionSync};
use crate::{Message, Session};
use crate::{context, deferred};

/// How a consumer run ended, when it did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// It returned `Err` (the consumer's error is its source).
    Error(ConsumerError),
    /// It panicked.
    Panic(String),
}

/// A consumer run in progress.
///
/// An async consumer's own boxed future is polled directly (no second box), with panics caught and the
/// layer in scope at each poll, so that groups and channels without a bound layer find it. Scoping each
/// consumer poll, rather than the whole connection task, costs nothing when no consumer runs (a
/// connection that only receives broadcasts).
pub(crate) struct RunFuture {
    state: RunState,
    /// The connection's session, when nothing had to be loaded before the run: written back after it
    /// ends, if the run changed it (see [`start`]). Checking is one atomic load; an unchanged session
    /// costs nothing more.
    save_after: Option<Session>,
}

enum RunState {
    /// An async consumer, polled directly, with its layer in scope during each poll (lent to the poll:
    /// `None` only while the poll runs).
    Direct(ConsumerFuture, Option<Arc<dyn ChannelLayer>>),
    /// Anything that needed wrapping: a sync consumer's blocking task, an atomic consumer, a failure.
    Wrapped(BoxFuture<'static, Result<(), Failure>>),
    /// Polled to the end already.
    Done,
}

impl RunFuture {
    fn wrapped(future: impl Future<Output = Result<(), Failure>> + Send + 'static) -> Self {
        RunFuture::of(RunState::Wrapped(Box::pin(future)))
    }

    fn of(state: RunState) -> Self {
        RunFuture {
            state,
            save_after: None,
        }
    }

    /// A run that has already ended with `outcome` (an accepted connect consumer that failed at once).
    pub(crate) fn ended(outcome: Result<(), Failure>) -> Self {
        RunFuture::wrapped(std::future::ready(outcome))
    }
}

impl Future for RunFuture {
    type Output = Result<(), Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let outcome = match &mut self.state {
                RunState::Direct(future, layer) => {
                    let poll = || context::sync_scope(layer, || future.as_mut().poll(cx));
                    match std::panic::catch_unwind(AssertUnwindSafe(poll)) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(()))) => Ok(()),
                        Ok(Poll::Ready(Err(error))) => Err(Failure::Error(error)),
                        Err(panic) => Err(Failure::Panic(panic_text(&*panic))),
                    }
                }
                RunState::Wrapped(future) => match future.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(outcome) => outcome,
                },
                RunState::Done => Err(Failure::Panic("consumer run polled after it ended".into())),
            };
            // Drop the consumer's future now: a panicked one must never be polled again.
            self.state = RunState::Done;
            match self.save_after.take() {
                // The run changed the session (whatever its outcome, as `with_session` saves): write it
                // back, then end with the run's outcome.
                Some(session) if session.is_changed() => {
                    self.state = RunState::Wrapped(Box::pin(async move {
                        crate::session::sync::write_back(&session).await;
                        outcome
                    }));
                }
                _ => return Poll::Ready(outcome),
            }
        }
    }
}

/// Starts `consumer` on `message`; the returned future runs it to the end.
///
/// The channel session is loaded before the consumer runs and written back after it if it changed
/// (`session::sync`). When there is nothing to load (a connection's own copy is current), the run is the
/// consumer's own future, with one check of the session when it ends: no allocation, no layer call.
pub(crate) fn start(
    consumer: &Consumer,
    message: Message,
    layer: &Arc<dyn ChannelLayer>,
) -> RunFuture {
    match SessionSync::plan(&message, layer) {
        Plan::Nothing => start_plain(consumer, message, layer),
        Plan::SaveAfter(session) => {
            let mut run = start_plain(consumer, message, layer);
            run.save_after = Some(session);
            run
        }
        Plan::LoadFirst(sync) => with_session(sync, consumer.clone(), message, layer.clone()),
    }
}

/// [`start`] around a session load before the consumer is invoked and a save after it ends, even when
/// it failed (Channels 1.x's `channel_session` saved in a `finally`).
fn with_session(
    sync: SessionSync,
    consumer: Consumer,
    message: Message,
    layer: Arc<dyn ChannelLayer>,
) -> RunFuture {
    RunFuture::wrapped(async move {
        sync.load(&layer).await;
        let outcome = start_plain(&consumer, message, &layer).await;
        sync.save(&layer).await;
        outcome
    })
}

#[inline] // the message is passed on, not copied once more
fn start_plain(consumer: &Consumer, message: Message, layer: &Arc<dyn ChannelLayer>) -> RunFuture {
    let name = consumer.name();
    match catch(|| consumer.invoke(message)) {
        Err(panic) => RunFuture::ended(Err(Failure::Panic(panic))),
        Ok(Invocation::Async(fut)) if consumer.is_atomic() || consumer.is_buffered() => {
            let guarded = RunFuture::of(RunState::Direct(fut, Some(layer.clone())));
            // `atomic` discards the held sends of a failed run; `buffered` sends them anyway, as
            // Channels 1.x flushed its buffer in a `finally`.
            let flush_on_failure = consumer.is_buffered();
            RunFuture::wrapped(async move {
                let (outcome, held) = deferred::run_holding(guarded).await;
                match outcome {
                    Ok(()) => deferred::flush(held)
                        .await
                        .map_err(|e| Failure::Error(ConsumerError::new(e))),
                    Err(failure @ Failure::Error(_)) if flush_on_failure => {
                        if let Err(error) = deferred::flush(held).await {
                            tracing::warn!(consumer = name, %error, "buffered sends of a failed consumer were not all sent");
                        }
                        Err(failure)
                    }
                    Err(failure) => {
                        tracing::debug!(
                            consumer = name,
                            discarded = held.len(),
                            "consumer failed; its held sends are discarded"
                        );
                        Err(failure)
                    }
                }
            })
        }
        Ok(Invocation::Async(fut)) => RunFuture::of(RunState::Direct(fut, Some(layer.clone()))),
        Ok(Invocation::Blocking(body)) => {
            let handle = tokio::runtime::Handle::current();
            let layer = layer.clone();
            // In the connection's span, and with the caller's subscriber (a scoped one too), as an async
            // consumer's events are.
            let span = tracing::Span::current();
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let task = tokio::task::spawn_blocking(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    span.in_scope(|| context::run_sync(handle, layer, body))
                })
            });
            RunFuture::wrapped(task.map(move |joined| match joined {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(Failure::Error(error)),
                Err(join) if join.is_panic() => {
                    Err(Failure::Panic(panic_text(&*join.into_panic())))
                }
                Err(_) => Err(Failure::Panic(format!("consumer {name} was cancelled"))),
            }))
        }
    }
}

fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_text(&*p))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Logs a failed run the way every caller wants it logged.
pub(crate) fn log_failure(consumer: &str, event: &str, failure: &Failure) {
    crate::metrics::consumer_failed(match failure {
        Failure::Error(_) => "error",
        Failure::Panic(_) => "panic",
    });
    match failure {
        Failure::Error(e) => {
            tracing::error!(consumer, event, error = %Chain(e.get_ref()), "consumer returned an error")
        }
        Failure::Panic(p) => tracing::error!(consumer, event, panic = %p, "consumer panicked"),
    }
}

/// An error and its sources, joined with `: ` (the consumer's error, then what caused it).
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not save")]
    struct Save(#[source] std::io::Error);

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use serde_json::{Map, Value, json};

    use crate::ReplyChannel;
    use crate::layer::{InMemoryLayer, Inbox, LayerConfig, LayerError, LayerMessage};
    use crate::message::{MessageBuilder, Scope, events};

    /// An in-memory layer that counts session loads and saves, and says (as `RedisLayer` does for a
    /// name that has not left the process) whether a connection's session may have changed.
    #[derive(Debug, Default)]
    struct Counting {
        inner: InMemoryLayer,
        may_have_changed: AtomicBool,
        loads: AtomicUsize,
        saves: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl ChannelLayer for Counting {
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
            self.inner.group_add(group, channel).await
        }
        async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
            self.inner.group_discard(group, channel).await
        }
        async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
            self.inner.group_send(group, message).await
        }
        fn config(&self) -> &LayerConfig {
            self.inner.config()
        }
        async fn session_load(
            &self,
            channel: &str,
        ) -> Result<Option<Map<String, Value>>, LayerError> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            self.inner.session_load(channel).await
        }
        async fn session_save(
            &self,
            channel: &str,
            session: &Map<String, Value>,
        ) -> Result<(), LayerError> {
            self.saves.fetch_add(1, Ordering::SeqCst);
            self.inner.session_save(channel, session).await
        }
        fn session_may_have_changed(&self, _channel: &str) -> bool {
            self.may_have_changed.load(Ordering::SeqCst)
        }
    }

    /// A connection's reply channel and session on `layer`.
    async fn connection(layer: &Arc<Counting>) -> (Inbox, ReplyChannel, Arc<Scope>) {
        let inbox = layer.new_channel("specific.").await.unwrap();
        let shared: Arc<dyn ChannelLayer> = layer.clone();
        let reply = ReplyChannel::for_inbox(&inbox, shared);
        let scope = Arc::new(Scope::default());
        scope.session.mark_connection();
        (inbox, reply, scope)
    }

    fn receive(scope: &Arc<Scope>, reply: &ReplyChannel) -> Message {
        MessageBuilder::new(events::WEBSOCKET_RECEIVE, scope.clone())
            .text("hi".into())
            .build(reply.clone())
    }

    /// A consumer that sets `key` in the session when given one, and panics after it if `panic`.
    fn setter(key: Option<&'static str>, panic: bool) -> Consumer {
        Consumer::from_async("setter", move |message: Message| async move {
            if let Some(key) = key {
                message.channel_session().set(key, json!(1));
            }
            assert!(!panic, "consumer panicked on purpose");
        })
    }

    #[tokio::test]
    async fn a_current_connection_session_is_not_loaded_and_only_a_change_is_written_back() {
        let counting = Arc::new(Counting::default());
        let layer: Arc<dyn ChannelLayer> = counting.clone();
        let (inbox, reply, scope) = connection(&counting).await;

        start(&setter(None, false), receive(&scope, &reply), &layer)
            .await
            .unwrap();
        assert_eq!(
            counting.loads.load(Ordering::SeqCst),
            0,
            "the copy is current"
        );
        assert_eq!(counting.saves.load(Ordering::SeqCst), 0, "nothing changed");

        start(
            &setter(Some("room"), false),
            receive(&scope, &reply),
            &layer,
        )
        .await
        .unwrap();
        assert_eq!(counting.loads.load(Ordering::SeqCst), 0);
        assert_eq!(counting.saves.load(Ordering::SeqCst), 1);
        let stored = layer.session_load(inbox.name()).await.unwrap();
        assert_eq!(stored.and_then(|s| s.get("room").cloned()), Some(json!(1)));
        assert!(!scope.session.is_changed(), "written back");

        // A consumer that changes the session and then panics: written back all the same.
        let failed = start(
            &setter(Some("after"), true),
            receive(&scope, &reply),
            &layer,
        )
        .await;
        assert!(matches!(failed, Err(Failure::Panic(_))));
        assert_eq!(counting.saves.load(Ordering::SeqCst), 2);
        let stored = layer.session_load(inbox.name()).await.unwrap().unwrap();
        assert_eq!(stored.get("after"), Some(&json!(1)));
    }

    #[tokio::test]
    async fn a_session_that_may_have_changed_is_loaded_before_the_run() {
        let counting = Arc::new(Counting::default());
        counting.may_have_changed.store(true, Ordering::SeqCst);
        let layer: Arc<dyn ChannelLayer> = counting.clone();
        let (inbox, reply, scope) = connection(&counting).await;
        // Written by someone else (a worker).
        let mut theirs = Map::new();
        theirs.insert("worker".into(), json!("was here"));
        counting
            .inner
            .session_save(inbox.name(), &theirs)
            .await
            .unwrap();

        let seen = Arc::new(std::sync::Mutex::new(None));
        let sees = seen.clone();
        let reader = Consumer::from_async("reader", move |message: Message| {
            let sees = sees.clone();
            async move {
                *sees.lock().unwrap() = message.channel_session().get("worker");
            }
        });
        start(&reader, receive(&scope, &reply), &layer)
            .await
            .unwrap();
        assert_eq!(counting.loads.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), Some(json!("was here")));
        assert_eq!(counting.saves.load(Ordering::SeqCst), 0, "nothing changed");
    }

    #[tokio::test]
    async fn a_connect_run_loads_nothing_and_a_worker_run_always_loads() {
        let counting = Arc::new(Counting::default());
        counting.may_have_changed.store(true, Ordering::SeqCst);
        let layer: Arc<dyn ChannelLayer> = counting.clone();
        let (_inbox, reply, scope) = connection(&counting).await;
        let connect =
            MessageBuilder::new(events::WEBSOCKET_CONNECT, scope.clone()).build(reply.clone());
        start(&setter(Some("room"), false), connect, &layer)
            .await
            .unwrap();
        assert_eq!(
            counting.loads.load(Ordering::SeqCst),
            0,
            "a new reply channel has no session"
        );
        assert_eq!(counting.saves.load(Ordering::SeqCst), 1);

        // A worker's message naming the connection's reply channel: its own copy, loaded first.
        let worker_scope = Arc::new(Scope::default());
        let job = MessageBuilder::new("jobs", worker_scope.clone()).build(reply.clone());
        start(&setter(None, false), job, &layer).await.unwrap();
        assert_eq!(counting.loads.load(Ordering::SeqCst), 1);
        assert_eq!(worker_scope.session.get("room"), Some(json!(1)));
    }

    #[test]
    fn a_logged_error_shows_its_causes() {
        let error = ConsumerError::new(Save(std::io::Error::other("disk full")));
        assert_eq!(
            Chain(error.get_ref()).to_string(),
            "could not save: disk full"
        );
    }
}
