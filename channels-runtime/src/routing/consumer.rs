//! The consumer abstraction: what a consumer returns ([`IntoConsumerResult`], [`ConsumerError`]), how one
//! run starts ([`Invocation`]), a consumer bound to its captures ([`Consumer`]), and what its failures do to
//! its connection ([`ErrorMode`]).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Message;

/// The error a consumer ended with, kept whole.
///
/// Its `Display` only says that a consumer failed; the consumer's own error is its
/// [`source`](StdError::source), so a reporter that walks the chain (`tracing`'s server logs, anyhow's
/// `{:#}`) prints both, and [`downcast_ref`](Self::downcast_ref) reaches it by type.
///
/// ```
/// use std::error::Error as _;
/// use channels_runtime::routing::ConsumerError;
///
/// let error = ConsumerError::new(std::io::Error::other("disk full"));
/// assert_eq!(error.to_string(), "consumer returned an error");
/// assert_eq!(error.source().map(ToString::to_string).as_deref(), Some("disk full"));
/// assert!(error.downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("consumer returned an error")]
pub struct ConsumerError {
    #[source]
    source: Box<dyn StdError + Send + Sync + 'static>,
    /// Set by a consumer in [`ErrorMode::KeepOpen`]: the server logs the error and keeps the connection.
    keep_open: bool,
}

impl ConsumerError {
    /// Wraps the error a consumer returned: any `std::error::Error + Send + Sync`, `anyhow::Error`,
    /// `String` or `&str`.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        ConsumerError {
            source: error.into(),
            keep_open: false,
        }
    }

    /// Whether the connection stays open after this error: the consumer that returned it runs in
    /// [`ErrorMode::KeepOpen`] (Channels 1.x). Otherwise the server closes the connection with 1011.
    pub fn keeps_connection_open(&self) -> bool {
        self.keep_open
    }

    /// The error, marked to keep its connection open (see [`ErrorMode::KeepOpen`]).
    fn keeping_open(mut self) -> Self {
        self.keep_open = true;
        self
    }

    /// The error, as a consumer in `mode` returns it.
    pub(crate) fn in_mode(self, mode: ErrorMode) -> Self {
        match mode {
            ErrorMode::KeepOpen => self.keeping_open(),
            ErrorMode::Close => self,
        }
    }

    /// The consumer's own error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }

    /// The consumer's own error, if it is an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref()
    }

    /// The consumer's own error, owned.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.source
    }
}

/// What a consumer run yields.
pub type ConsumerResult = Result<(), ConsumerError>;

/// A consumer run in progress.
pub type ConsumerFuture = Pin<Box<dyn Future<Output = ConsumerResult> + Send + 'static>>;

/// How a consumer runs: as a future on the connection's task, or as a blocking closure on tokio's blocking
/// thread pool (so sync consumers never stall the runtime, and don't all share one thread).
pub enum Invocation {
    /// An `async fn` consumer.
    Async(ConsumerFuture),
    /// A plain `fn` consumer.
    Blocking(Box<dyn FnOnce() -> ConsumerResult + Send + 'static>),
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invocation::Async(_) => f.write_str("Invocation::Async"),
            Invocation::Blocking(_) => f.write_str("Invocation::Blocking"),
        }
    }
}

/// What a consumer may return: `()`, or `Result<(), E>` where `E` is an error: any
/// `std::error::Error + Send + Sync` (such as [`channels::Error`](crate::Error)), `anyhow::Error`, `String`
/// or `&str`. The error is kept as the [`ConsumerError`]'s source.
#[diagnostic::on_unimplemented(
    message = "a consumer must return `()` or `Result<(), E>` where `E` is an error type, not `{Self}`",
    label = "unsupported consumer return type",
    note = "use `-> channels::Result<()>`, `-> Result<(), YourError>` (any `std::error::Error + Send + Sync`, `anyhow::Error` or `String`) or no return type"
)]
pub trait IntoConsumerResult {
    /// Converts the consumer's return value.
    fn into_consumer_result(self) -> ConsumerResult;
}

impl IntoConsumerResult for () {
    fn into_consumer_result(self) -> ConsumerResult {
        Ok(())
    }
}

impl<E: Into<Box<dyn StdError + Send + Sync + 'static>>> IntoConsumerResult for Result<(), E> {
    fn into_consumer_result(self) -> ConsumerResult {
        self.map_err(ConsumerError::new)
    }
}

/// What a consumer's failure does to its connection: Channels 4's answer (the default) or Channels 1.x's.
///
/// A failure is an `Err` the consumer returned, or one the dispatch found on its behalf: an event `type`
/// a class-based consumer has no handler for, an event payload that doesn't fit the handler's parameter,
/// a frame that isn't the JSON a [`Json`](super::Json) parameter or `receive_json` expects (all
/// [`DispatchError`](super::DispatchError)s). Every failure is logged (at `error` level) in both modes.
///
/// | | [`Close`](Self::Close) (Channels 4, default) | [`KeepOpen`](Self::KeepOpen) (Channels 1.x) |
/// |---|---|---|
/// | a `receive` or event consumer fails | log, close with 1011 | log, keep the connection |
/// | data sent by the connect consumer before it accepts | an error: log, refuse the handshake with 500 (Daphne 4 raises) | accepts the connection |
///
/// A panic closes the connection with 1011 in both modes (the consumer's state can't be trusted after
/// it), and a connect consumer that fails refuses the handshake with 500 in both.
///
/// Choose it per consumer with `#[consumer(errors = "keep_open")]` ([`Consumer::with_error_mode`]), or for a
/// whole table with the header `errors = "keep_open";` ([`Routing::with_error_mode`](super::Routing::with_error_mode)); a
/// consumer's own choice wins over its table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// Channels 4 (and Daphne 4): a failure closes the connection with 1011; data before `accept` is an
    /// error.
    #[default]
    Close,
    /// Channels 1.x: the worker logged a consumer's exception and the client stayed connected; data
    /// before `accept` accepts.
    KeepOpen,
}

/// When a consumer's sends leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Hold {
    /// At once (the default).
    #[default]
    Never,
    /// When it returns `Ok`; discarded when it fails ([`Consumer::atomic`]).
    Atomic,
    /// When it returns, whatever it returns ([`Consumer::buffered`], Channels 1.x).
    UntilReturn,
}

/// A consumer bound to its path captures, ready to run for each message of a connection.
///
/// One pointer (16 bytes): every open connection keeps up to four of them (its bindings), so the name and
/// the modes live in the same allocation as the function rather than beside the pointer.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Inner<dyn Fn(Message) -> Invocation + Send + Sync>>,
}

/// A consumer's function, its name and modes, in one allocation (see [`Consumer`]).
struct Inner<F: ?Sized> {
    name: &'static str,
    hold: Hold,
    errors: Option<ErrorMode>,
    call: F,
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl Consumer {
    /// A consumer from a function that makes an [`Invocation`] for each message.
    pub fn new(
        name: &'static str,
        call: impl Fn(Message) -> Invocation + Send + Sync + 'static,
    ) -> Self {
        Consumer {
            inner: Arc::new(Inner {
                name,
                hold: Hold::Never,
                errors: None,
                call,
            }),
        }
    }

    /// The consumer with these modes. In place when this is the only handle to it (a consumer being
    /// built, or bound for one connection); otherwise (a route's consumer, cloned for each connection) a
    /// new one that calls the same function.
    fn with_modes(mut self, hold: Hold, errors: Option<ErrorMode>) -> Self {
        if self.inner.hold == hold && self.inner.errors == errors {
            return self;
        }
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hold = hold;
            inner.errors = errors;
            return self;
        }
        let name = self.inner.name;
        let shared = self.inner;
        Consumer {
            inner: Arc::new(Inner {
                name,
                hold,
                errors,
                call: move |message| (shared.call)(message),
            }),
        }
    }

    /// A consumer from an async function of the message.
    pub fn from_async<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoConsumerResult,
    {
        Consumer::new(name, move |message| {
            let fut = f(message);
            Invocation::Async(Box::pin(async move { fut.await.into_consumer_result() }))
        })
    }

    /// A consumer from a sync function of the message; it runs on the blocking thread pool.
    pub fn from_sync<F, R>(name: &'static str, f: F) -> Self
    where
        F: Fn(Message) -> R + Send + Sync + 'static,
        R: IntoConsumerResult,
    {
        let f = Arc::new(f);
        Consumer::new(name, move |message| {
            let f = f.clone();
            Invocation::Blocking(Box::new(move || f(message).into_consumer_result()))
        })
    }

    /// Holds every send this consumer makes (reply channel, group, channel) until it returns, then sends
    /// them in order if it returned `Ok` and discards them if it failed: all or nothing, as a database
    /// transaction. Applies to async consumers; a sync consumer's sends always leave at once.
    ///
    /// This is *not* what Channels 1.x did: 1.x sent a consumer's buffered messages in a `finally`, even
    /// when it raised. That is [`buffered`](Self::buffered).
    ///
    /// ```
    /// use channels_runtime::routing::Consumer;
    /// use channels_runtime::Message;
    /// let all_or_nothing = Consumer::from_async("transfer", |_m: Message| async {}).atomic();
    /// assert!(all_or_nothing.is_atomic());
    /// ```
    pub fn atomic(self) -> Self {
        let errors = self.inner.errors;
        self.with_modes(Hold::Atomic, errors)
    }

    /// Whether sends are held until the consumer returns `Ok` (see [`atomic`](Self::atomic)).
    pub fn is_atomic(&self) -> bool {
        self.inner.hold == Hold::Atomic
    }

    /// Holds every send this consumer makes until it returns, then sends them in order whatever it
    /// returned: Channels 1.x's buffering (its `Channel.send` waited for the consumer to exit, and the
    /// buffer was flushed in a `finally`, also after an exception). Applies to async consumers.
    ///
    /// ```
    /// use channels_runtime::routing::Consumer;
    /// use channels_runtime::Message;
    /// let like_1x = Consumer::from_async("ws_message", |_m: Message| async {}).buffered();
    /// assert!(like_1x.is_buffered() && !like_1x.is_atomic());
    /// ```
    pub fn buffered(self) -> Self {
        let errors = self.inner.errors;
        self.with_modes(Hold::UntilReturn, errors)
    }

    /// Whether sends are held until the consumer returns, and then sent whatever it returned (see
    /// [`buffered`](Self::buffered)).
    pub fn is_buffered(&self) -> bool {
        self.inner.hold == Hold::UntilReturn
    }

    /// What this consumer's failures do to its connection (see [`ErrorMode`]); this choice wins over the
    /// table's ([`Routing::with_error_mode`](super::Routing::with_error_mode)).
    ///
    /// ```
    /// use channels_runtime::routing::{Consumer, ErrorMode};
    /// use channels_runtime::Message;
    /// let lenient = Consumer::from_async("ws_message", |_m: Message| async {}).with_error_mode(ErrorMode::KeepOpen);
    /// assert_eq!(lenient.error_mode(), ErrorMode::KeepOpen);
    /// ```
    pub fn with_error_mode(self, mode: ErrorMode) -> Self {
        let hold = self.inner.hold;
        self.with_modes(hold, Some(mode))
    }

    /// The consumer's error mode: its own, or its table's, or [`ErrorMode::Close`].
    pub fn error_mode(&self) -> ErrorMode {
        self.inner.errors.unwrap_or_default()
    }

    /// The consumer, with `mode` as its error mode unless it chose one itself (a table's default).
    pub(crate) fn or_errors(self, mode: Option<ErrorMode>) -> Self {
        if self.inner.errors.is_some() {
            return self;
        }
        let hold = self.inner.hold;
        self.with_modes(hold, mode)
    }

    /// The consumer's name, for logs.
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// Starts a run for `message`. In [`ErrorMode::KeepOpen`], the run's error is marked to keep its
    /// connection open ([`ConsumerError::keeps_connection_open`]).
    #[inline] // the message (a few hundred bytes) is passed on, not copied once more
    pub fn invoke(&self, message: Message) -> Invocation {
        let invocation = (self.inner.call)(message);
        if self.error_mode() != ErrorMode::KeepOpen {
            return invocation;
        }
        match invocation {
            Invocation::Async(run) => Invocation::Async(Box::pin(async move {
                run.await.map_err(ConsumerError::keeping_open)
            })),
            Invocation::Blocking(run) => {
                Invocation::Blocking(Box::new(move || run().map_err(ConsumerError::keeping_open)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_returned_error_is_kept_as_the_source() {
        let failed: Result<(), crate::Error> = Err(crate::Error::ChannelFull);
        let error = failed.into_consumer_result().unwrap_err();
        assert!(matches!(
            error.downcast_ref::<crate::Error>(),
            Some(crate::Error::ChannelFull)
        ));
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("channel is full; nothing was sent")
        );
    }

    fn failing() -> Consumer {
        Consumer::from_async("failing", |_m: Message| async { Err::<(), _>("boom") })
    }

    async fn error_of(invocation: Invocation) -> ConsumerError {
        match invocation {
            Invocation::Async(run) => run.await.unwrap_err(),
            Invocation::Blocking(run) => run().unwrap_err(),
        }
    }

    #[tokio::test]
    async fn keep_open_marks_the_errors_of_its_runs() {
        let close = error_of(failing().invoke(Message::from_text("x"))).await;
        assert!(!close.keeps_connection_open());
        let lenient = failing().with_error_mode(ErrorMode::KeepOpen);
        let kept = error_of(lenient.invoke(Message::from_text("x"))).await;
        assert!(kept.keeps_connection_open());
        assert_eq!(kept.get_ref().to_string(), "boom");
        let sync = Consumer::from_sync("sync", |_m: Message| Err::<(), _>("boom"))
            .with_error_mode(ErrorMode::KeepOpen);
        assert!(
            error_of(sync.invoke(Message::from_text("x")))
                .await
                .keeps_connection_open()
        );
    }

    #[tokio::test]
    async fn modes_set_on_a_shared_consumer_leave_its_other_handles_alone() {
        let route = failing();
        let bound = route.clone().with_error_mode(ErrorMode::KeepOpen).atomic();
        assert_eq!(route.error_mode(), ErrorMode::Close);
        assert!(!route.is_atomic());
        assert_eq!(bound.error_mode(), ErrorMode::KeepOpen);
        assert!(bound.is_atomic() && !bound.is_buffered());
        assert_eq!(bound.name(), "failing");
        // The same function runs, in the new mode.
        let kept = error_of(bound.invoke(Message::from_text("x"))).await;
        assert!(kept.keeps_connection_open());
        assert_eq!(kept.get_ref().to_string(), "boom");
        let closed = error_of(route.invoke(Message::from_text("x"))).await;
        assert!(!closed.keeps_connection_open());
        // One pointer, with the niche an `Option` uses.
        assert_eq!(std::mem::size_of::<Option<Consumer>>(), 16);
    }

    #[test]
    fn a_consumers_own_mode_wins_over_its_tables() {
        let own = failing().with_error_mode(ErrorMode::Close);
        assert_eq!(
            own.or_errors(Some(ErrorMode::KeepOpen)).error_mode(),
            ErrorMode::Close
        );
        assert_eq!(
            failing().or_errors(Some(ErrorMode::KeepOpen)).error_mode(),
            ErrorMode::KeepOpen
        );
        assert_eq!(failing().or_errors(None).error_mode(), ErrorMode::Close);
    }

    #[test]
    fn display_only_errors_still_work() {
        let text: Result<(), String> = Err("insufficient funds".to_owned());
        let error = text.into_consumer_result().unwrap_err();
        assert_eq!(error.get_ref().to_string(), "insufficient funds");
        let literal: Result<(), &str> = Err("boom");
        assert_eq!(
            literal
                .into_consumer_result()
                .unwrap_err()
                .get_ref()
                .to_string(),
            "boom"
        );
        assert!(().into_consumer_result().is_ok());
    }
}
