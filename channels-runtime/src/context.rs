//! Which channel layer a `Group` or `Channel` without an explicit layer talks to.
//!
//! Channels looks up `channel_layers["default"]`. Here, inside a consumer, it is the layer of the server or
//! worker running it; elsewhere (a background task, a timer) it is the process default, set by the first
//! [`Server`](crate::Server) or [`Worker`](crate::Worker) that starts, or explicitly with [`set_default_layer`].

use std::future::Future;
use std::sync::{Arc, OnceLock};

use crate::Error;
use crate::layer::ChannelLayer;

tokio::task_local! {
    static CURRENT: Arc<dyn ChannelLayer>;
}

static DEFAULT: OnceLock<Arc<dyn ChannelLayer>> = OnceLock::new();

std::thread_local! {
    static SYNC_CONSUMER: std::cell::RefCell<Option<(tokio::runtime::Handle, Arc<dyn ChannelLayer>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Sets the process-wide default layer, if none is set yet. Returns whether this call set it.
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

/// The layer that unbound groups and channels use here (see the module docs).
pub fn current_layer() -> Result<Arc<dyn ChannelLayer>, Error> {
    if let Ok(layer) = CURRENT.try_with(Arc::clone) {
        return Ok(layer);
    }
    if let Some(layer) = SYNC_CONSUMER.with(|c| c.borrow().as_ref().map(|(_, l)| l.clone())) {
        return Ok(layer);
    }
    DEFAULT.get().cloned().ok_or(Error::NoLayer)
}

/// Runs `f` (one poll of a consumer) with `layer` as the current layer.
pub(crate) fn sync_scope<R>(layer: Arc<dyn ChannelLayer>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(layer, f)
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

/// Drives `future` to completion from sync code: from a sync consumer, or from a thread outside any runtime
/// once a server has started.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    if let Some(handle) = SYNC_CONSUMER.with(|c| c.borrow().as_ref().map(|(h, _)| h.clone())) {
        return Ok(handle.block_on(future));
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::BlockingInAsync);
    }
    match RUNTIME.get() {
        Some(handle) => Ok(handle.block_on(future)),
        None => Err(Error::NoLayer),
    }
}

static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// Remembers the runtime a server runs on, so plain threads can use `*_blocking` methods.
pub(crate) fn remember_runtime(handle: tokio::runtime::Handle) {
    let _ = RUNTIME.set(handle);
}
