//! Running one consumer invocation: async ones on the caller's task with the layer in scope and panics
//! caught, sync ones on tokio's blocking pool.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use crate::Message;
use crate::layer::ChannelLayer;
use crate::routing::{Consumer, ConsumerError, ConsumerFuture, Invocation};
use crate::{context, deferred};

/// How a consumer run ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// It returned `Err`.
    Error(String),
    /// It panicked.
    Panic(String),
}

pub(crate) type RunFuture = futures_util::future::BoxFuture<'static, Result<(), Failure>>;

/// Starts `consumer` on `message`; the returned future runs it to the end.
pub(crate) fn start(
    consumer: &Consumer,
    message: Message,
    layer: &Arc<dyn ChannelLayer>,
) -> RunFuture {
    let name = consumer.name();
    match catch(|| consumer.invoke(message)) {
        Err(panic) => {
            let failure = Failure::Panic(panic);
            Box::pin(async move { Err(failure) })
        }
        Ok(Invocation::Async(fut)) if consumer.is_atomic() => {
            let fut: ConsumerFuture = fut;
            let guarded = AssertUnwindSafe(fut).catch_unwind();
            let scoped = context::scope(layer.clone(), async move {
                let (outcome, held) = deferred::run_holding(guarded).await;
                match outcome {
                    Ok(Ok(())) => Ok(deferred::flush(held)
                        .await
                        .map_err(|e| Failure::Error(e.to_string()))?),
                    Ok(Err(ConsumerError(e))) => {
                        tracing::debug!(
                            consumer = name,
                            discarded = held.len(),
                            "atomic consumer failed; its sends are discarded"
                        );
                        Err(Failure::Error(e))
                    }
                    Err(panic) => Err(Failure::Panic(panic_text(&*panic))),
                }
            });
            Box::pin(scoped)
        }
        Ok(Invocation::Async(fut)) => {
            let fut: ConsumerFuture = fut;
            let scoped = context::scope(layer.clone(), AssertUnwindSafe(fut).catch_unwind());
            Box::pin(scoped.map(|outcome| match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(ConsumerError(e))) => Err(Failure::Error(e)),
                Err(panic) => Err(Failure::Panic(panic_text(&*panic))),
            }))
        }
        Ok(Invocation::Blocking(body)) => {
            let handle = tokio::runtime::Handle::current();
            let layer = layer.clone();
            let task = tokio::task::spawn_blocking(move || context::run_sync(handle, layer, body));
            Box::pin(task.map(move |joined| match joined {
                Ok(Ok(())) => Ok(()),
                Ok(Err(ConsumerError(e))) => Err(Failure::Error(e)),
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
    match failure {
        Failure::Error(e) => {
            tracing::error!(consumer, event, error = %e, "consumer returned an error")
        }
        Failure::Panic(p) => tracing::error!(consumer, event, panic = %p, "consumer panicked"),
    }
}
