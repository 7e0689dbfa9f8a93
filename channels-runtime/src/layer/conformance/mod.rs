//! A conformance suite for channel layers: one check per rule of Channels' ASGI layer spec, and
//! [`run_all`] to run every one. [`InMemoryLayer`](super::InMemoryLayer) and `RedisLayer` run it in their
//! tests; a layer of your own should too.
//!
//! Each check makes its own layer through a [`LayerFactory`] (any `Fn(LayerConfig) -> impl Future<Output =
//! Result<L, LayerError>>`), with the limits it tests, and returns a [`Violation`] naming the rule when the
//! layer breaks it. Every check that waits for a message gives up after [`Options::timeout`], so a broken
//! layer fails the suite instead of hanging it.
//!
//! **Time.** The expiry checks wait with `tokio::time::sleep` for one and a half times
//! [`Options::expiry`]. On a current-thread runtime with paused time (`#[tokio::test(start_paused =
//! true)]`) that takes no real time, which suits a layer that reads tokio's clock (like every layer built
//! on [`LocalRegistry`](super::LocalRegistry)). A layer whose backend keeps its own time (Redis) runs the
//! suite on real time with a short expiry, or skips those checks with [`Options::without_expiry`].
//!
//! ```
//! use channels_runtime::layer::{conformance, InMemoryLayer, LayerConfig, LayerError};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let factory = |config: LayerConfig| async move { Ok::<_, LayerError>(InMemoryLayer::with_config(config)) };
//! let outcome = conformance::run_all(&factory, &conformance::Options::default()).await;
//! assert_eq!(outcome, Ok(()));
//! # }
//! ```

mod channels;
mod groups;
mod sessions;

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;

use super::{ChannelLayer, LayerConfig, LayerError, LayerMessage};

pub use self::channels::{
    at_most_once, capacity, closed_channel, expiry, invalid_names, message_kinds,
    new_channel_names, receive_is_cancel_safe, send_receive_fifo,
};
pub use self::groups::{full_member_is_skipped, group_expiry, group_with_normal_channel, groups};
pub use self::sessions::{session_expiry, sessions};

/// A rule the layer broke, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {detail}")]
pub struct Violation {
    /// The rule, as the check that found it names it (`"capacity"`, `"group expiry"`).
    pub rule: &'static str,
    /// What the layer did instead.
    pub detail: String,
}

/// How the suite runs.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::layer::conformance::Options;
/// let redis = Options::default().expiry(Duration::from_secs(2));
/// let quick = Options::default().without_expiry();
/// assert_eq!(quick.expiry, None);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The expiry and group expiry the expiry checks configure; they wait one and a half times as long.
    /// `None` skips them. Default 2 s.
    pub expiry: Option<Duration>,
    /// How long a check waits for a message that should arrive before calling it lost. Default 10 s.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            expiry: Some(Duration::from_secs(2)),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// Sets the expiry the expiry checks use.
    #[must_use]
    pub fn expiry(mut self, expiry: Duration) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Skips the expiry checks (message expiry, group expiry, session expiry and their renewal).
    #[must_use]
    pub fn without_expiry(mut self) -> Self {
        self.expiry = None;
        self
    }

    /// Sets how long a check waits for a message before calling it lost.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Makes a fresh layer with the given limits, for one check.
///
/// Each layer it makes must share nothing with the ones made before (for a layer with a backend: a fresh
/// key prefix). Implemented for every `Fn(LayerConfig) -> impl Future<Output = Result<L, LayerError>>`.
pub trait LayerFactory {
    /// The layer made.
    type Layer: ChannelLayer;

    /// A new layer with `config`.
    fn make(&self, config: LayerConfig) -> impl Future<Output = Result<Self::Layer, LayerError>>;
}

impl<F, Fut, L> LayerFactory for F
where
    F: Fn(LayerConfig) -> Fut,
    Fut: Future<Output = Result<L, LayerError>>,
    L: ChannelLayer,
{
    type Layer = L;

    fn make(&self, config: LayerConfig) -> impl Future<Output = Result<L, LayerError>> {
        self(config)
    }
}

/// Runs every check; returns each rule broken, in the order checked.
pub async fn run_all(factory: &impl LayerFactory, options: &Options) -> Result<(), Vec<Violation>> {
    let outcomes = [
        send_receive_fifo(factory, options).await,
        message_kinds(factory, options).await,
        capacity(factory, options).await,
        expiry(factory, options).await,
        new_channel_names(factory, options).await,
        closed_channel(factory, options).await,
        groups(factory, options).await,
        group_with_normal_channel(factory, options).await,
        full_member_is_skipped(factory, options).await,
        group_expiry(factory, options).await,
        invalid_names(factory, options).await,
        at_most_once(factory, options).await,
        receive_is_cancel_safe(factory, options).await,
        sessions(factory, options).await,
        session_expiry(factory, options).await,
    ];
    let violations: Vec<Violation> = outcomes.into_iter().filter_map(Result::err).collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

pub(super) fn violation(rule: &'static str, detail: impl Into<String>) -> Violation {
    Violation {
        rule,
        detail: detail.into(),
    }
}

pub(super) async fn make<F: LayerFactory>(
    factory: &F,
    rule: &'static str,
    config: LayerConfig,
) -> Result<F::Layer, Violation> {
    factory
        .make(config)
        .await
        .map_err(|error| violation(rule, format!("the factory could not make a layer: {error}")))
}

/// An operation that must succeed.
pub(super) fn must<T>(
    rule: &'static str,
    what: &str,
    result: Result<T, LayerError>,
) -> Result<T, Violation> {
    result.map_err(|error| violation(rule, format!("{what} failed: {error}")))
}

/// A message that must arrive in time.
pub(super) async fn arrives(
    rule: &'static str,
    what: &str,
    options: &Options,
    receive: impl Future<Output = Result<LayerMessage, LayerError>>,
) -> Result<LayerMessage, Violation> {
    match tokio::time::timeout(options.timeout, receive).await {
        Ok(result) => must(rule, what, result),
        Err(_) => Err(violation(
            rule,
            format!("{what}: nothing arrived within {:?}", options.timeout),
        )),
    }
}

pub(super) fn expect<T: PartialEq + std::fmt::Debug + ?Sized>(
    rule: &'static str,
    what: &str,
    got: &T,
    want: &T,
) -> Result<(), Violation> {
    if got == want {
        Ok(())
    } else {
        Err(violation(
            rule,
            format!("{what}: got {got:?}, expected {want:?}"),
        ))
    }
}

pub(super) fn text(n: usize) -> LayerMessage {
    LayerMessage::text(n.to_string())
}

/// Checks that nothing unwanted reached `inbox`: sends a marker through the group `marker`, of which the
/// inbox is the only member, and expects the marker to be the inbox's next message. Group messages of one
/// sender arrive in order, so an unwanted message sent before the marker shows up before it.
pub(super) async fn next_is_marker<L: ChannelLayer>(
    rule: &'static str,
    what: &str,
    options: &Options,
    layer: &L,
    inbox: &super::Inbox,
    marker: &str,
) -> Result<(), Violation> {
    let want = LayerMessage::text("marker");
    must(
        rule,
        "group_send",
        layer.group_send(marker, want.clone()).await,
    )?;
    let got = arrives(rule, what, options, inbox.recv().map(Ok)).await?;
    expect(rule, what, &got, &want)
}
