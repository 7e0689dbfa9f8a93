//! The route table: event type + optional path regex -> consumer. This is what `channel_routing!` expands
//! into, and it can be written by hand too.
//!
//! Rules, as in Channels 1.x:
//! - Routes are tried in order; the first whose event matches, whose pattern matches and whose captures
//!   parse wins.
//! - A pattern matches from the start of the path (Python's `re.match`), whether or not it begins with `^`.
//! - [`Routing::include`] matches its prefix, strips the part it matched and hands the rest to the inner
//!   table; the inner table's captures win over the prefix's on a name clash.
//! - A typed capture that fails to parse (`u32` from `"abc"`) makes that route not match; the next is tried.
//!
//! ```
//! use channels_runtime::routing::{Consumer, Route, Routing};
//! use channels_runtime::{Message, Result};
//!
//! async fn ws_message(message: Message) -> Result<()> {
//!     message.reply_channel.send_text(message.text().unwrap_or_default().to_owned()).await
//! }
//!
//! let routing = Routing::new()
//!     .route(Route::to("websocket.receive", None, Consumer::from_async("ws_message", ws_message)));
//! assert!(routing.errors().is_empty());
//! assert!(routing.resolve("websocket.receive", "/anything/").is_some());
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use regex::Regex;

use crate::Message;
use crate::message::events;

/// The error a consumer ended with, rendered with its `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConsumerError(pub String);

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

/// What a consumer may return: `()` or `Result<(), E>` with `E: Display`.
#[diagnostic::on_unimplemented(
    message = "a consumer must return `()` or `Result<(), E>` where `E: Display`, not `{Self}`",
    label = "unsupported consumer return type",
    note = "use `-> channels::Result<()>`, `-> Result<(), YourError>` or no return type"
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

impl<E: fmt::Display> IntoConsumerResult for Result<(), E> {
    fn into_consumer_result(self) -> ConsumerResult {
        self.map_err(|e| ConsumerError(e.to_string()))
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

/// A value that can be parsed from a path capture: any `FromStr` type that can be cloned and sent.
#[diagnostic::on_unimplemented(
    message = "path capture parameter type `{Self}` can't be parsed from the URL",
    label = "this type doesn't implement `FromStr` (or isn't `Clone + Send + Sync + 'static`)",
    note = "use `String`, an integer such as `u32`, or a type of your own that implements `std::str::FromStr`"
)]
pub trait FromCapture: Sized + Clone + Send + Sync + 'static {
    /// Parses the captured text; `None` makes the route not match.
    fn from_capture(text: &str) -> Option<Self>;
}

impl<T: FromStr + Clone + Send + Sync + 'static> FromCapture for T {
    fn from_capture(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// The named captures of a matched path, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    values: Vec<(Arc<str>, String)>,
}

impl PathParams {
    /// The text captured under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The capture `name` parsed as `T`; `None` if absent or unparsable.
    pub fn parse<T: FromCapture>(&self, name: &str) -> Option<T> {
        T::from_capture(self.get(name)?)
    }

    /// Every capture, in the order they were set (an include's prefix first).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (&**n, v.as_str()))
    }

    fn set(&mut self, name: Arc<str>, value: &str) {
        self.values.retain(|(n, _)| *n != name);
        self.values.push((name, value.to_owned()));
    }
}

/// Binds a matched route's captures to its consumer; `None` when a capture does not parse.
pub type Binder = Arc<dyn Fn(&PathParams) -> Option<Consumer> + Send + Sync>;

/// Which events a route takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// One event type or channel name.
    Exact(Arc<str>),
    /// Every `websocket.*` event, and typed events sent to the connection (a class-based consumer).
    WebSocket,
}

impl EventFilter {
    fn matches(&self, event: &str) -> bool {
        match self {
            EventFilter::Exact(name) => &**name == event,
            EventFilter::WebSocket => true,
        }
    }
}

/// A compiled path pattern, anchored at the start like Python's `re.match`.
#[derive(Debug, Clone)]
struct Pattern {
    source: Arc<str>,
    regex: Regex,
    names: Vec<Option<Arc<str>>>,
}

impl Pattern {
    fn new(source: &str) -> Result<Self, RoutingError> {
        let regex = Regex::new(&format!(r"\A(?:{source})")).map_err(|e| RoutingError::Regex {
            pattern: source.to_owned(),
            message: e.to_string(),
        })?;
        let names = regex.capture_names().map(|n| n.map(Arc::from)).collect();
        Ok(Pattern {
            source: Arc::from(source),
            regex,
            names,
        })
    }

    /// Matches at the start of `path`: the length matched, with captures added to `params`.
    fn matches(&self, path: &str, params: &mut PathParams) -> Option<usize> {
        let captures = self.regex.captures(path)?;
        for (i, name) in self.names.iter().enumerate() {
            if let (Some(name), Some(m)) = (name, captures.get(i)) {
                params.set(name.clone(), m.as_str());
            }
        }
        Some(captures.get(0).map_or(0, |m| m.end()))
    }
}

/// A problem found when a route table is built at runtime (the macros find these at compile time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// A path pattern is not a valid regex.
    #[error("invalid path pattern {pattern:?}: {message}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// The regex crate's explanation.
        message: String,
    },
    /// A channel name breaks Channels' naming rule.
    #[error("invalid channel name {name:?}: {reason}")]
    InvalidChannel {
        /// The name.
        name: String,
        /// Why.
        reason: crate::names::NameError,
    },
}

/// One route: events, an optional path pattern, and the consumer.
#[derive(Clone)]
pub struct Route {
    events: EventFilter,
    pattern: Option<Result<Pattern, RoutingError>>,
    consumer_name: &'static str,
    binder: Binder,
    groups: Vec<std::borrow::Cow<'static, str>>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("events", &self.events)
            .field(
                "path",
                &self.pattern.as_ref().map(|p| p.as_ref().map(|p| &p.source)),
            )
            .field("consumer", &self.consumer_name)
            .finish()
    }
}

impl Route {
    /// A route whose consumer takes path captures: `binder` parses them and returns the bound consumer.
    pub fn new(
        event: &str,
        path: Option<&str>,
        consumer_name: &'static str,
        binder: impl Fn(&PathParams) -> Option<Consumer> + Send + Sync + 'static,
    ) -> Self {
        Route {
            events: EventFilter::Exact(Arc::from(event)),
            pattern: path.map(Pattern::new),
            consumer_name,
            binder: Arc::new(binder),
            groups: Vec::new(),
        }
    }

    /// A route to a consumer that takes no captures.
    pub fn to(event: &str, path: Option<&str>, consumer: Consumer) -> Self {
        let name = consumer.name();
        Route::new(event, path, name, move |_| Some(consumer.clone()))
    }

    /// A route for a class-based consumer: every `websocket.*` event of matching paths (and typed events sent
    /// to the connection) go to one consumer, bound once per connection so it can keep state.
    pub fn class(
        path: Option<&str>,
        consumer_name: &'static str,
        binder: impl Fn(&PathParams) -> Option<Consumer> + Send + Sync + 'static,
    ) -> Self {
        Route {
            events: EventFilter::WebSocket,
            pattern: path.map(Pattern::new),
            consumer_name,
            binder: Arc::new(binder),
            groups: Vec::new(),
        }
    }

    /// Declares groups that every connection taking this route joins before its connect consumer runs
    /// and leaves when it closes (Channels 4's `groups = [...]`). `{name}` is filled in from the path
    /// capture `name`; a filled-in name that breaks Channels' rule refuses the connection with 403.
    pub fn with_groups(
        mut self,
        groups: impl IntoIterator<Item = impl Into<std::borrow::Cow<'static, str>>>,
    ) -> Self {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// The group templates declared with [`with_groups`](Self::with_groups).
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| &**g)
    }

    /// Binds the captures to the consumer; `None` when a capture does not parse.
    pub fn bind(&self, params: &PathParams) -> Option<Consumer> {
        (self.binder)(params)
    }

    /// The consumer's name, for logs.
    pub fn consumer_name(&self) -> &'static str {
        self.consumer_name
    }

    /// The events this route takes.
    pub fn events(&self) -> &EventFilter {
        &self.events
    }

    fn takes(&self, event: &str) -> bool {
        match &self.events {
            EventFilter::WebSocket => !is_builtin(event) || event.starts_with("websocket."),
            filter => filter.matches(event),
        }
    }
}

fn is_builtin(event: &str) -> bool {
    events::ALL.contains(&event)
}

#[derive(Debug, Clone)]
enum Entry {
    Route(Route),
    Include {
        prefix: Option<Result<Pattern, RoutingError>>,
        inner: Routing,
    },
}

/// A route table (Channels' `channel_routing` list).
#[derive(Debug, Clone, Default)]
pub struct Routing {
    entries: Vec<Entry>,
    /// Every entry's path pattern in one `RegexSet`, built on first use: one pass over the path tells
    /// which entries can match, so only those run their own regex (for the captures).
    index: std::sync::OnceLock<Option<PatternIndex>>,
}

/// The patterns of a table's entries, matched all at once.
#[derive(Debug, Clone)]
struct PatternIndex {
    set: regex::RegexSet,
    /// For each entry, its position in `set` (entries without a valid pattern have none).
    slots: Vec<Option<usize>>,
}

impl PatternIndex {
    fn build(entries: &[Entry]) -> Option<PatternIndex> {
        let mut sources = Vec::new();
        let slots = entries
            .iter()
            .map(|entry| {
                let pattern = match entry {
                    Entry::Route(route) => route.pattern.as_ref(),
                    Entry::Include { prefix, .. } => prefix.as_ref(),
                };
                match pattern {
                    Some(Ok(pattern)) => {
                        sources.push(pattern.regex.as_str().to_owned());
                        Some(sources.len() - 1)
                    }
                    _ => None,
                }
            })
            .collect();
        // Too large for one set (regex's size limit): fall back to trying each pattern in turn.
        let set = regex::RegexSet::new(&sources).ok()?;
        Some(PatternIndex { set, slots })
    }
}

/// A route found for an event: which route (for sharing one binding between events) and its captures.
#[derive(Debug)]
pub(crate) struct Found<'a> {
    pub(crate) route: &'a Route,
    pub(crate) params: PathParams,
}

impl Routing {
    /// An empty table.
    pub fn new() -> Self {
        Routing::default()
    }

    /// Appends a route.
    pub fn route(mut self, route: Route) -> Self {
        self.entries.push(Entry::Route(route));
        self.index = std::sync::OnceLock::new();
        self
    }

    /// Appends an included table: paths matching `prefix` (from the start) go to `inner` with the matched
    /// part stripped. `None` includes it for every path.
    pub fn include(mut self, prefix: Option<&str>, inner: Routing) -> Self {
        self.entries.push(Entry::Include {
            prefix: prefix.map(Pattern::new),
            inner,
        });
        self.index = std::sync::OnceLock::new();
        self
    }

    /// Problems found while building the table (invalid regexes or channel names).
    pub fn errors(&self) -> Vec<RoutingError> {
        let mut errors = Vec::new();
        self.collect_errors(&mut errors);
        errors
    }

    fn collect_errors(&self, errors: &mut Vec<RoutingError>) {
        for entry in &self.entries {
            match entry {
                Entry::Route(route) => {
                    if let Some(Err(e)) = &route.pattern {
                        errors.push(e.clone());
                    }
                    if let EventFilter::Exact(name) = &route.events
                        && let Err(reason) = crate::names::validate_channel_name(name)
                    {
                        errors.push(RoutingError::InvalidChannel {
                            name: name.to_string(),
                            reason,
                        });
                    }
                }
                Entry::Include { prefix, inner } => {
                    if let Some(Err(e)) = prefix {
                        errors.push(e.clone());
                    }
                    inner.collect_errors(errors);
                }
            }
        }
    }

    /// The first route that takes `event` at `path` with captures that parse, bound to its consumer.
    pub fn resolve(&self, event: &str, path: &str) -> Option<Consumer> {
        let mut params = PathParams::default();
        self.find(event, path, &mut params, &mut |route, params| {
            (route.binder)(params).map(|c| (route, c))
        })
        .map(|(_, consumer)| consumer)
    }

    /// Like [`resolve`](Self::resolve), returning the route and captures without binding them yet (the
    /// captures are checked to parse).
    pub(crate) fn find_route(&self, event: &str, path: &str) -> Option<Found<'_>> {
        let mut params = PathParams::default();
        self.find(event, path, &mut params, &mut |route, params| {
            (route.binder)(params).map(|_| Found {
                route,
                params: params.clone(),
            })
        })
    }

    fn find<'a, T>(
        &'a self,
        event: &str,
        path: &str,
        params: &mut PathParams,
        accept: &mut dyn FnMut(&'a Route, &PathParams) -> Option<T>,
    ) -> Option<T> {
        let index = self
            .index
            .get_or_init(|| PatternIndex::build(&self.entries))
            .as_ref();
        let matched = index.map(|index| index.set.matches(path));
        for (i, entry) in self.entries.iter().enumerate() {
            // Skip entries whose pattern the set says can't match, without running their regex.
            if let (Some(index), Some(matched)) = (index, &matched)
                && let Some(slot) = index.slots[i]
                && !matched.matched(slot)
            {
                continue;
            }
            match entry {
                Entry::Route(route) => {
                    if !route.takes(event) {
                        continue;
                    }
                    let mut local = params.clone();
                    match &route.pattern {
                        None => {}
                        Some(Ok(pattern)) if pattern.matches(path, &mut local).is_some() => {}
                        Some(_) => continue,
                    }
                    if let Some(found) = accept(route, &local) {
                        return Some(found);
                    }
                }
                Entry::Include { prefix, inner } => {
                    let mut local = params.clone();
                    let rest = match prefix {
                        None => path,
                        Some(Ok(pattern)) => match pattern.matches(path, &mut local) {
                            Some(end) => &path[end..],
                            None => continue,
                        },
                        Some(Err(_)) => continue,
                    };
                    if let Some(found) = inner.find(event, rest, &mut local, accept) {
                        return Some(found);
                    }
                }
            }
        }
        None
    }

    /// Custom channel names routed by this table (every event that is not `websocket.*` or `http.*`):
    /// the channels that workers read.
    pub fn custom_channels(&self) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        self.collect_channels(&mut out);
        out
    }

    fn collect_channels(&self, out: &mut Vec<Arc<str>>) {
        for entry in &self.entries {
            match entry {
                Entry::Route(route) => {
                    if let EventFilter::Exact(name) = &route.events
                        && !is_builtin(name)
                        && !out.contains(name)
                    {
                        out.push(name.clone());
                    }
                }
                Entry::Include { inner, .. } => inner.collect_channels(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &'static str) -> Consumer {
        Consumer::from_async(name, |_m: Message| async {})
    }

    fn with_u32(name: &'static str) -> impl Fn(&PathParams) -> Option<Consumer> + Send + Sync {
        move |params: &PathParams| {
            let _n: u32 = params.parse("n")?;
            Some(named(name))
        }
    }

    #[test]
    fn first_match_wins_and_patterns_anchor_at_start() {
        let routing = Routing::new()
            .route(Route::to("websocket.receive", Some(r"/a/"), named("a")))
            .route(Route::to("websocket.receive", Some(r"^/"), named("any")))
            .route(Route::to("websocket.receive", None, named("never")));
        assert_eq!(
            routing.resolve("websocket.receive", "/a/b").unwrap().name(),
            "a"
        );
        assert_eq!(
            routing
                .resolve("websocket.receive", "/x/a/")
                .unwrap()
                .name(),
            "any"
        );
        assert!(routing.resolve("websocket.connect", "/a/").is_none());
    }

    #[test]
    fn unparsable_capture_falls_through() {
        let routing = Routing::new()
            .route(Route::new(
                "websocket.receive",
                Some(r"/(?P<n>\w+)/"),
                "num",
                with_u32("num"),
            ))
            .route(Route::to(
                "websocket.receive",
                Some(r"/"),
                named("fallback"),
            ));
        assert_eq!(
            routing.resolve("websocket.receive", "/12/").unwrap().name(),
            "num"
        );
        assert_eq!(
            routing.resolve("websocket.receive", "/ab/").unwrap().name(),
            "fallback"
        );
        assert_eq!(
            routing
                .resolve("websocket.receive", "/99999999999/")
                .unwrap()
                .name(),
            "fallback"
        );
    }

    #[test]
    fn include_strips_prefix_and_inner_captures_win() {
        let inner = Routing::new().route(Route::new(
            "websocket.receive",
            Some(r"^/(?P<n>\d+)/$"),
            "inner",
            with_u32("inner"),
        ));
        let routing = Routing::new().include(Some(r"^/admin/(?P<n>[a-z]+)"), inner);
        let found = routing
            .find_route("websocket.receive", "/admin/x/5/")
            .unwrap();
        assert_eq!(found.params.get("n"), Some("5"));
        assert!(routing.resolve("websocket.receive", "/other/5/").is_none());
    }

    #[test]
    fn runtime_errors_are_collected() {
        let routing = Routing::new()
            .route(Route::to(
                "websocket.receive",
                Some(r"(unclosed"),
                named("x"),
            ))
            .route(Route::to("bad name", None, named("y")));
        assert_eq!(routing.errors().len(), 2);
    }

    #[test]
    fn custom_channels_are_listed() {
        let routing = Routing::new()
            .route(Route::to("websocket.receive", None, named("x")))
            .route(Route::to("thumbnails.generate", None, named("t")))
            .include(
                None,
                Routing::new().route(Route::to("mail.send", None, named("m"))),
            );
        let channels = routing.custom_channels();
        assert_eq!(channels.len(), 2);
    }
}
