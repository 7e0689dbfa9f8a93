//! Which channel layer a `Group` or `Channel` without an explicit layer talks to, and which runtime a
//! `*_blocking` call outside any runtime drives its send on.
//!
//! Channels looks up `channel_layers["default"]`. Here, inside a consumer, it is the layer of the server or
//! worker running it, so two servers in one process (tests, an embedding application) each keep their own.
//! Elsewhere (a background task, a timer) it is the process default, which exists only when the user sets
//! it: with [`set_default_layer`], or by starting a server or worker built with
//! [`Server::set_as_default_layer`](crate::Server::set_as_default_layer). Code outside consumers can instead
//! bind a layer explicitly (`Group::with_layer(server.layer())`), which never depends on what else runs in
//! the process.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::Error;
use crate::layer::ChannelLayer;

std::thread_local! {
    /// The layer of the consumer being polled on this thread, lent by its run for the poll (see
    /// [`sync_scope`]): moved in and back out, so a poll costs no reference count.
    static CURRENT: Cell<Option<Arc<dyn ChannelLayer>>> = const { Cell::new(None) };
}

static DEFAULT: OnceLock<Arc<dyn ChannelLayer>> = OnceLock::new();

std::thread_local! {
    static SYNC_CONSUMER: std::cell::RefCell<Option<(tokio::runtime::Handle, Arc<dyn ChannelLayer>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Sets the process-wide default layer, if none is set yet. Returns whether this call set it.
///
/// The default is what a `Group` or `Channel` with no bound layer uses outside a consumer (inside one, the
/// layer of the server or worker running it wins). It is set once and kept for the life of the process:
/// the first call wins, so a library never silently changes the layer an application chose. Nothing sets
/// it unless asked (see [`Server::set_as_default_layer`](crate::Server::set_as_default_layer)).
///
/// ```
/// use std::sync::Arc;
/// use channels_runtime::{layer::InMemoryLayer, set_default_layer};
/// let first = set_default_layer(Arc::new(InMemoryLayer::new()));
/// let second = set_default_layer(Arc::new(InMemoryLayer::new()));
/// assert!(first);
/// assert!(!second);
/// ```
pub fn set_default_layer(layer: Arc<dyn ChannelLayer>) -> bool {
    DEFAULT.set(layer).is_ok()
}

/// The layer that unbound groups and channels use here (see the module docs): the running consumer's,
/// else the process default; [`Error::NoLayer`] when there is neither.
pub fn current_layer() -> Result<Arc<dyn ChannelLayer>, Error> {
    let polled = CURRENT
        .try_with(|current| {
            let layer = current.take();
            let copy = layer.clone();
            current.set(layer);
            copy
        })
        .ok()
        .flatten();
    if let Some(layer) = polled {
        return Ok(layer);
    }
    if let Some(layer) = SYNC_CONSUMER.with(|c| c.borrow().as_ref().map(|(_, l)| l.clone())) {
        return Ok(layer);
    }
    DEFAULT.get().cloned().ok_or(Error::NoLayer)
}

/// Runs `f` (one poll of a consumer) with `layer` as the current layer: the layer is moved into this
/// thread's slot for the call and back into `layer` after it (also when `f` panics), and whatever was
/// current before (an enclosing consumer's poll) is current again.
pub(crate) fn sync_scope<R>(layer: &mut Option<Arc<dyn ChannelLayer>>, f: impl FnOnce() -> R) -> R {
    /// Gives the layer back to its run, and the slot to the enclosing poll, when the poll ends.
    struct Lent<'a> {
        owner: &'a mut Option<Arc<dyn ChannelLayer>>,
        enclosing: Option<Arc<dyn ChannelLayer>>,
    }
    impl Drop for Lent<'_> {
        fn drop(&mut self) {
            let enclosing = self.enclosing.take();
            // `try_with`: the slot is gone only while this thread exits, and then nothing polls.
            if let Ok(ours) = CURRENT.try_with(|current| current.replace(enclosing)) {
                *self.owner = ours;
            }
        }
    }
    let Ok(enclosing) = CURRENT.try_with(|current| current.replace(layer.take())) else {
        return f();
    };
    let _lent = Lent {
        owner: layer,
        enclosing,
    };
    f()
}

/// Runs `future` with `layer` as the current layer throughout (tests; consumers are scoped per poll).
#[cfg(test)]
pub(crate) async fn scope<F: Future>(layer: Arc<dyn ChannelLayer>, future: F) -> F::Output {
    let mut layer = Some(layer);
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| sync_scope(&mut layer, || future.as_mut().poll(cx))).await
}

/// Runs a sync consumer body on this (blocking) thread with the layer and runtime it may block on.
pub(crate) fn run_sync<R>(
    handle: tokio::runtime::Handle,
    layer: Arc<dyn ChannelLayer>,
    body: impl FnOnce() -> R,
) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SYNC_CONSUMER.with(|c| c.borrow_mut().take());
        }
    }
    SYNC_CONSUMER.with(|c| *c.borrow_mut() = Some((handle, layer)));
    let _reset = Reset;
    body()
}

/// Drives `future` to completion from sync code: from a sync consumer (on its server's runtime), or from a
/// thread outside any runtime (on the runtime of the most recently started server or worker that is still
/// running; see [`register_runtime`]).
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    if let Some(handle) = SYNC_CONSUMER.with(|c| c.borrow().as_ref().map(|(h, _)| h.clone())) {
        return Ok(handle.block_on(future));
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::BlockingInAsync);
    }
    match running_runtime() {
        Some(handle) => Ok(handle.block_on(future)),
        None => Err(Error::NoLayer),
    }
}

/// The runtimes of the servers and workers running now, oldest first, each with its registration's id.
static RUNTIMES: Mutex<Vec<(u64, tokio::runtime::Handle)>> = Mutex::new(Vec::new());
static NEXT_REGISTRATION: AtomicU64 = AtomicU64::new(0);

fn runtimes() -> std::sync::MutexGuard<'static, Vec<(u64, tokio::runtime::Handle)>> {
    // Each critical section is one push, remove or read; a poisoned lock holds consistent data.
    RUNTIMES.lock().unwrap_or_else(|e| e.into_inner())
}

fn running_runtime() -> Option<tokio::runtime::Handle> {
    runtimes().last().map(|(_, handle)| handle.clone())
}

/// Keeps a server's or worker's runtime available to `*_blocking` calls from plain threads, until dropped.
///
/// Not first-wins: each running server or worker registers its runtime and removes it when it stops, and
/// a blocking call uses the newest one still registered. So a second server in the process works after the
/// first has stopped (and its runtime with it), and no call is sent to a runtime that has gone.
#[derive(Debug)]
pub(crate) struct RuntimeRegistration(u64);

/// Registers the runtime `handle` belongs to (see [`RuntimeRegistration`]).
pub(crate) fn register_runtime(handle: tokio::runtime::Handle) -> RuntimeRegistration {
    let id = NEXT_REGISTRATION.fetch_add(1, Ordering::Relaxed);
    runtimes().push((id, handle));
    RuntimeRegistration(id)
}

impl Drop for RuntimeRegistration {
    fn drop(&mut self) {
        runtimes().retain(|(id, _)| *id != self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &Arc<dyn ChannelLayer>, b: &Arc<dyn ChannelLayer>) -> bool {
        Arc::ptr_eq(a, b)
    }

    #[test]
    fn a_lent_layer_is_current_during_the_call_and_returned_after_it_even_on_panic() {
        let outer: Arc<dyn ChannelLayer> = Arc::new(crate::layer::InMemoryLayer::new());
        let inner: Arc<dyn ChannelLayer> = Arc::new(crate::layer::InMemoryLayer::new());
        let (mut outer_slot, mut inner_slot) = (Some(outer.clone()), Some(inner.clone()));
        sync_scope(&mut outer_slot, || {
            assert!(same(&current_layer().unwrap(), &outer));
            sync_scope(&mut inner_slot, || {
                assert!(same(&current_layer().unwrap(), &inner));
            });
            // The enclosing poll's layer is current again, and the nested run has its layer back.
            assert!(same(&current_layer().unwrap(), &outer));
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sync_scope(&mut inner_slot, || panic!("consumer panicked on purpose"))
            }));
            assert!(panicked.is_err());
            assert!(same(&current_layer().unwrap(), &outer));
        });
        assert!(same(outer_slot.as_ref().unwrap(), &outer));
        assert!(same(inner_slot.as_ref().unwrap(), &inner));
        // Nothing is current any more (no default layer is set in this crate's unit tests).
        assert!(CURRENT.with(|current| {
            let layer = current.take();
            let none = layer.is_none();
            current.set(layer);
            none
        }));
    }

    #[test]
    fn blocking_calls_use_the_newest_runtime_still_running() {
        let first = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let second = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let first_id = first.handle().id();
        let second_id = second.handle().id();
        let on_first = register_runtime(first.handle().clone());
        let on_second = register_runtime(second.handle().clone());
        // No other unit test of this crate starts a server or worker, so these are the only registrations.
        let which = || block_on(async { tokio::runtime::Handle::current().id() }).unwrap();
        assert_eq!(which(), second_id);
        drop(on_second);
        drop(second);
        assert_eq!(which(), first_id);
        drop(on_first);
    }
}
