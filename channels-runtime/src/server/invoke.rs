//! Running one consumer invocation: async ones on the caller's task with panics caught, sync ones on
//! tokio's blocking pool.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::Message;
use crate::layer::ChannelLayer;
use crate::routing::{Consumer, ConsumerError, ConsumerFuture, Invocation};
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
}

enum RunState {
    /// An async consumer, polled directly, with its layer in scope during each poll.
    Direct(ConsumerFuture, Arc<dyn ChannelLayer>),
    /// Anything that needed wrapping: a sync consumer's blocking task, an atomic consumer, a failure.
    Wrapped(BoxFuture<'static, Result<(), Failure>>),
    /// Polled to the end already.
    Done,
}

impl RunFuture {
    fn wrapped(future: impl Future<Output = Result<(), Failure>> + Send + 'static) -> Self {
        RunFuture {
            state: RunState::Wrapped(Box::pin(future)),
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
        let outcome = match &mut self.state {
            RunState::Direct(future, layer) => {
                let poll = || context::sync_scope(layer.clone(), || future.as_mut().poll(cx));
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
        Poll::Ready(outcome)
    }
}

/// Starts `consumer` on `message`; the returned future runs it to the end.
pub(crate) fn start(
    consumer: &Consumer,
    message: Message,
    layer: &Arc<dyn ChannelLayer>,
) -> RunFuture {
    // The channel session: loaded before the consumer runs, written back after (`session::sync`).
    match crate::session::sync::SessionSync::plan(&message) {
        Some(sync) => with_session(sync, consumer.clone(), message, layer.clone()),
        None => start_plain(consumer, message, layer),
    }
}

/// [`start`] around a session load before the consumer is invoked and a save after it ends, even when
/// it failed (Channels 1.x's `channel_session` saved in a `finally`).
fn with_session(
    sync: crate::session::sync::SessionSync,
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

fn start_plain(consumer: &Consumer, message: Message, layer: &Arc<dyn ChannelLayer>) -> RunFuture {
    let name = consumer.name();
    match catch(|| consumer.invoke(message)) {
        Err(panic) => RunFuture::ended(Err(Failure::Panic(panic))),
        Ok(Invocation::Async(fut)) if consumer.is_atomic() || consumer.is_buffered() => {
            let guarded = RunFuture {
                state: RunState::Direct(fut, layer.clone()),
            };
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
        Ok(Invocation::Async(fut)) => RunFuture {
            state: RunState::Direct(fut, layer.clone()),
        },
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

    #[test]
    fn a_logged_error_shows_its_causes() {
        let error = ConsumerError::new(Save(std::io::Error::other("disk full")));
        assert_eq!(
            Chain(error.get_ref()).to_string(),
            "could not save: disk full"
        );
    }
}
