//! The consumer abstraction: what a consumer returns ([`IntoConsumerResult`], [`ConsumerError`]), how one
//! run starts ([`Invocation`]), and a consumer bound to its captures ([`Consumer`]).

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
}

impl ConsumerError {
    /// Wraps the error a consumer returned: any `std::error::Error + Send + Sync`, `anyhow::Error`,
    /// `String` or `&str`.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        ConsumerError {
            source: error.into(),
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

/// A consumer bound to its path captures, ready to run for each message of a connection.
#[derive(Clone)]
pub struct Consumer {
    name: &'static str,
    call: Arc<dyn Fn(Message) -> Invocation + Send + Sync>,
    atomic: bool,
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("name", &self.name)
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
            name,
            call: Arc::new(call),
            atomic: false,
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
    /// them in order if it returned `Ok` and discards them if it failed: Channels 1.x's behaviour, as an
    /// opt-in. Applies to async consumers; a sync consumer's sends always leave at once.
    ///
    /// ```
    /// use channels_runtime::routing::Consumer;
    /// use channels_runtime::Message;
    /// let all_or_nothing = Consumer::from_async("transfer", |_m: Message| async {}).atomic();
    /// assert!(all_or_nothing.is_atomic());
    /// ```
    pub fn atomic(mut self) -> Self {
        self.atomic = true;
        self
    }

    /// Whether sends are held until the consumer returns (see [`atomic`](Self::atomic)).
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// The consumer's name, for logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Starts a run for `message`.
    pub fn invoke(&self, message: Message) -> Invocation {
        (self.call)(message)
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
