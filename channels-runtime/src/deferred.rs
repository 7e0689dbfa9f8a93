//! Deferred sends: Channels 1.x's default, here an opt-in per consumer ([`Consumer::atomic`]).
//!
//! Inside an atomic consumer, every send through a reply channel, group or channel is held, then sent in
//! order when the consumer returns `Ok`, or discarded (and logged) when it fails. This is what Channels 1.x
//! did for every consumer unless `immediately=True` was passed, and why the seed's author saw nothing until
//! the consumer returned. Here sends leave at once by default; opt in only where all-or-nothing matters.
//!
//! [`Consumer::atomic`]: crate::routing::Consumer::atomic

use std::future::Future;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use crate::Result;

type Send_ = Box<dyn FnOnce() -> BoxFuture<'static, Result<()>> + Send>;

tokio::task_local! {
    static HELD: Mutex<Vec<Send_>>;
}

/// Holds `send` until the atomic consumer running on this task returns. Call only where
/// [`holding`] is true; elsewhere the send is run by nobody, so this logs it as a bug.
fn hold(send: impl FnOnce() -> BoxFuture<'static, Result<()>> + Send + 'static) {
    let held = HELD.try_with(|held| {
        held.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(send));
    });
    if held.is_err() {
        tracing::error!("a send was held outside an atomic consumer; it is lost");
    }
}

/// Holds a send of `message` to `target` when the current task runs an atomic consumer, and hands the
/// message back otherwise, so the caller sends it at once. `send` is how to send it later.
pub(crate) fn try_hold<T: Clone + Send + 'static>(
    target: &T,
    message: crate::layer::LayerMessage,
    send: fn(T, crate::layer::LayerMessage) -> BoxFuture<'static, Result<()>>,
) -> Option<crate::layer::LayerMessage> {
    if !holding() {
        return Some(message);
    }
    let target = target.clone();
    hold(move || send(target, message));
    None
}

/// Runs `future` with sends held; returns its output and the held sends, in order.
pub(crate) async fn run_holding<F: Future>(future: F) -> (F::Output, Vec<Send_>) {
    HELD.scope(Mutex::new(Vec::new()), async move {
        let output = future.await;
        let held =
            HELD.with(|held| std::mem::take(&mut *held.lock().unwrap_or_else(|e| e.into_inner())));
        (output, held)
    })
    .await
}

/// Sends what was held, in order; stops at the first failure.
pub(crate) async fn flush(held: Vec<Send_>) -> Result<()> {
    for send in held {
        send().await?;
    }
    Ok(())
}

/// Whether sends are held here (inside an atomic consumer).
fn holding() -> bool {
    HELD.try_with(|_| ()).is_ok()
}
