//! The route table ([`Routing`]): routes, included tables, nested URL routers and protocol splits, tried
//! in order.

use std::sync::{Arc, OnceLock};

use super::captures::PathParams;
use super::consumer::{Consumer, ConsumerResult, ErrorMode, Invocation};
use super::error::RoutingError;
use super::pattern::{PathPattern, Pattern, PatternIndex};
use super::protocol::Protocol;
use super::route::{EventFilter, Route};
use crate::message::Content;

#[derive(Debug, Clone)]
enum Entry {
    Route(Route),
    /// Channels 1.x's `include`, or a Channels 2+ router nested under a `re_path`/`path` prefix.
    Include {
        prefix: Option<Result<Pattern, RoutingError>>,
        inner: Routing,
    },
    /// One key of Channels 2+'s `ProtocolTypeRouter`.
    Protocol {
        protocol: Protocol,
        inner: Routing,
    },
}

impl Entry {
    fn pattern(&self) -> Option<&Result<Pattern, RoutingError>> {
        match self {
            Entry::Route(route) => route.pattern(),
            Entry::Include { prefix, .. } => prefix.as_ref(),
            Entry::Protocol { .. } => None,
        }
    }
}

/// A route table: Channels 1.x's `channel_routing` list, or a Channels 2+ `URLRouter`
/// ([`url_router`](Self::url_router)), `ProtocolTypeRouter` ([`protocol`](Self::protocol)) or
/// `ChannelNameRouter` (routes to custom channels).
///
/// `channel_routing!` writes these calls for you, checked while compiling; build a table by hand when
/// the routing is only known at run time (a prefix read from settings):
///
/// ```
/// use channels_runtime::routing::{Consumer, PathPattern, Protocol, Route, Routing};
/// use channels_runtime::Message;
///
/// let prefix = std::env::var("CHAT_PREFIX").unwrap_or_else(|_| "ws/".to_owned());
/// let chat = Consumer::from_async("chat", |_m: Message| async {});
/// let websocket = Routing::url_router().mount(
///     PathPattern::path(&prefix),
///     Routing::url_router().route(
///         Route::to("websocket.receive", None, chat).at(PathPattern::path("chat/<str:room>/")),
///     ),
/// );
/// let routing = Routing::new().protocol(Protocol::WebSocket, websocket);
/// assert!(routing.errors().is_empty());
/// assert!(routing.resolve("websocket.receive", "/ws/chat/lobby/").is_some());
/// assert!(routing.resolve("websocket.receive", "/chat/lobby/").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Routing {
    entries: Vec<Entry>,
    /// Channels 2+'s `URLRouter`: the path is matched without its leading `/`.
    url_router: bool,
    /// The error mode of the consumers this table (and the tables it includes) binds, unless they chose
    /// their own or an inner table did.
    errors: Option<ErrorMode>,
    /// Every entry's path pattern in one `RegexSet`, built on first use: one pass over the path tells
    /// which entries can match, so only those run their own regex (for the captures).
    index: OnceLock<Option<PatternIndex>>,
    /// A shared copy of the table, made the first time a route with field patterns is resolved: the
    /// consumer that routes each message by its fields holds it.
    shared: OnceLock<Arc<Routing>>,
    /// Middleware run before the consumers of this table's routes (and its included tables'), in order.
    middleware: Vec<Arc<dyn crate::auth::Middleware>>,
}

/// A route found for an event: which route, its captures, and its consumer bound to them.
#[derive(Debug)]
pub(crate) struct Found<'a> {
    pub(crate) route: &'a Route,
    pub(crate) params: PathParams,
    pub(crate) consumer: Consumer,
}

/// The routes bound so far while resolving the events of one connection.
///
/// Whether a route matches depends on whether its captures parse, which only its binder knows; and the
/// binder of a class-based consumer also creates the per-connection instance. So a route's binding is
/// made once, the first time the route is tried, and reused for every later event it is tried for: the
/// instance is created once per connection, and it is the instance every event of that route gets.
#[derive(Debug, Default)]
pub(crate) struct BoundRoutes<'a> {
    /// Each route tried, by identity, with its binding (`None`: a capture does not parse). The path is
    /// the same for every lookup, so a route's captures are too. The first few on the stack (a
    /// connection's three events seldom try more), the rest in `more`.
    first: [Option<(&'a Route, Option<Consumer>)>; 3],
    more: Vec<(&'a Route, Option<Consumer>)>,
}

impl<'a> BoundRoutes<'a> {
    fn bind_with(
        &mut self,
        route: &'a Route,
        bind: impl FnOnce() -> Option<Consumer>,
    ) -> Option<Consumer> {
        if let Some((_, consumer)) = self
            .first
            .iter()
            .flatten()
            .chain(&self.more)
            .find(|(r, _)| std::ptr::eq(*r, route))
        {
            return consumer.clone();
        }
        let consumer = bind();
        let entry = (route, consumer.clone());
        match self.first.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(entry),
            None => self.more.push(entry),
        }
        consumer
    }
}

/// What a lookup found.
enum Hit<'a, T> {
    /// A route whose event, path and captures match.
    Bound(T),
    /// A route with field patterns whose event and path match: which route takes a message depends on
    /// the message (only when the lookup has no message content).
    Deferred(&'a Route, PathParams),
}

/// Decides whether a route whose event and patterns match takes the message (its captures parse), and
/// makes the result, given the error mode its tables chose (see `Routing::find`).
type Accept<'a, 'f, T> = dyn FnMut(&'a Route, &PathParams, Option<ErrorMode>) -> Option<T> + 'f;

/// The name a consumer routing each message by its fields has in logs.
const BY_FIELDS: &str = "(routed by message fields)";

impl Routing {
    /// An empty Channels 1.x table: path patterns are matched against the whole path (`^/chat/`).
    pub fn new() -> Self {
        Routing::default()
    }

    /// An empty Channels 2+ `URLRouter`: paths are matched without their leading `/` (all of them, as
    /// Channels' `path.lstrip("/")`), so `re_path(r"ws/chat/$")` matches `/ws/chat/`. Its routes use
    /// [`PathPattern::re_path`] or [`PathPattern::path`] (with [`Route::at`]), and routers nest with
    /// [`mount`](Self::mount).
    pub fn url_router() -> Self {
        Routing {
            url_router: true,
            ..Routing::default()
        }
    }

    /// Sets the [`ErrorMode`] of every consumer this table routes, and the tables it includes, that
    /// doesn't choose its own (`#[consumer(errors = "...")]`) and isn't in an included table that chose
    /// one. `channel_routing!`'s header `errors = "keep_open";` calls it.
    ///
    /// ```
    /// use channels_runtime::routing::{Consumer, ErrorMode, Route, Routing};
    /// use channels_runtime::Message;
    /// let ws = Consumer::from_async("ws", |_m: Message| async {});
    /// let routing = Routing::new().with_error_mode(ErrorMode::KeepOpen).route(Route::to("websocket.receive", None, ws));
    /// let bound = routing.resolve("websocket.receive", "/").unwrap();
    /// assert_eq!(bound.error_mode(), ErrorMode::KeepOpen);
    /// ```
    pub fn with_error_mode(mut self, mode: ErrorMode) -> Self {
        self.errors = Some(mode);
        self
    }

    /// Adds `middleware` to this table: it runs before the consumers of every route of the table and of
    /// the tables it includes or mounts, after the middleware added before it and the middleware of the
    /// tables around this one, before inner tables' and routes' own (Channels'
    /// `AuthMiddlewareStack(URLRouter([...]))`). See [`auth`](crate::auth).
    ///
    /// ```
    /// use channels_runtime::auth::{self, Refusal};
    /// use channels_runtime::routing::Routing;
    /// let routing = Routing::url_router()
    ///     .with_middleware(auth::from_fn("deny_all", |_| Err(Refusal::forbidden("closed"))));
    /// ```
    pub fn with_middleware(mut self, middleware: impl crate::auth::Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// [`with_middleware`](Self::with_middleware) for a middleware already shared (one value used by
    /// several tables).
    pub fn with_shared_middleware(mut self, middleware: Arc<dyn crate::auth::Middleware>) -> Self {
        self.middleware.push(middleware);
        self
    }

    /// Whether this is a Channels 2+ `URLRouter` (see [`url_router`](Self::url_router)).
    pub fn is_url_router(&self) -> bool {
        self.url_router
    }

    fn push(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self.index = OnceLock::new();
        self.shared = OnceLock::new();
        self
    }

    /// Appends a route.
    pub fn route(self, route: Route) -> Self {
        self.push(Entry::Route(route))
    }

    /// Appends an included table (Channels 1.x's `include`): paths matching `prefix` (a regex, from the
    /// start) go to `inner` with the matched part stripped. `None` includes it for every path.
    pub fn include(self, prefix: Option<&str>, inner: Routing) -> Self {
        self.push(Entry::Include {
            prefix: prefix.map(Pattern::new),
            inner,
        })
    }

    /// Appends a nested router under `prefix` (Channels 2+'s `re_path(r"^ws/", URLRouter([...]))`): paths
    /// that `prefix` matches go to `inner` with everything up to the end of the match stripped, as
    /// Channels' `path_remaining`. The prefix's captures are available to the inner routes' consumers
    /// (an inner capture of the same name wins).
    pub fn mount(self, prefix: PathPattern, inner: Routing) -> Self {
        self.push(Entry::Include {
            prefix: Some(prefix.compile(false)),
            inner,
        })
    }

    /// Appends one key of Channels 2+'s `ProtocolTypeRouter`: the events of `protocol` go to `inner`.
    pub fn protocol(self, protocol: Protocol, inner: Routing) -> Self {
        self.push(Entry::Protocol { protocol, inner })
    }

    /// Problems found while building the table (invalid regexes, routes or channel names).
    pub fn errors(&self) -> Vec<RoutingError> {
        let mut errors = Vec::new();
        self.collect_errors(&mut errors);
        errors
    }

    fn collect_errors(&self, errors: &mut Vec<RoutingError>) {
        for entry in &self.entries {
            if let Some(Err(e)) = entry.pattern() {
                errors.push(e.clone());
            }
            match entry {
                Entry::Route(route) => {
                    errors.extend(route.field_errors().cloned());
                    if let EventFilter::Exact(name) = route.events() {
                        if let Err(reason) = crate::names::validate_routed_channel_name(name) {
                            errors.push(RoutingError::InvalidChannel {
                                name: name.to_string(),
                                reason,
                            });
                        } else if crate::names::classify(name) == crate::names::EventKind::Reserved
                        {
                            errors.push(RoutingError::UnknownEvent {
                                name: name.to_string(),
                            });
                        }
                    }
                }
                Entry::Include { inner, .. } | Entry::Protocol { inner, .. } => {
                    inner.collect_errors(errors)
                }
            }
        }
    }

    /// The first route that takes `event` at `path` with captures that parse, bound to its consumer.
    ///
    /// When that route has field patterns ([`Route::with_field`]), which route takes a message depends
    /// on the message: the consumer returned then decides for each message, trying that route and the
    /// ones after it in order.
    pub fn resolve(&self, event: &str, path: &str) -> Option<Consumer> {
        let mut params = PathParams::default();
        let mut bind = |route: &Route, params: &PathParams, errors: Option<ErrorMode>| {
            route.bind(params).map(|c| c.or_errors(errors))
        };
        match self.find(event, path, &mut params, None, None, &mut bind)? {
            Hit::Bound(consumer) => Some(consumer),
            Hit::Deferred(..) => Some(self.by_fields(event, path)),
        }
    }

    /// Like [`resolve`](Self::resolve), also returning the route and its captures, and reusing the
    /// bindings in `bound`: resolving several events of one connection with the same `bound` binds each
    /// route at most once.
    pub(crate) fn find_route<'a>(
        &'a self,
        event: &str,
        path: &str,
        bound: &mut BoundRoutes<'a>,
    ) -> Option<Found<'a>> {
        let mut params = PathParams::default();
        let hit = self.find(
            event,
            path,
            &mut params,
            None,
            None,
            &mut |route, params, errors| {
                bound
                    .bind_with(route, || route.bind(params).map(|c| c.or_errors(errors)))
                    .map(|consumer| Found {
                        route,
                        params: params.clone(),
                        consumer,
                    })
            },
        )?;
        match hit {
            Hit::Bound(found) => Some(found),
            Hit::Deferred(route, params) => {
                let consumer = bound.bind_with(route, || Some(self.by_fields(event, path)))?;
                Some(Found {
                    route,
                    params,
                    consumer,
                })
            }
        }
    }

    /// A consumer that routes each message by its fields: the first route whose event, path and fields
    /// match takes it, bound for that message.
    fn by_fields(&self, event: &str, path: &str) -> Consumer {
        let routing = self.shared.get_or_init(|| Arc::new(self.clone())).clone();
        let (event, path): (Arc<str>, Arc<str>) = (Arc::from(event), Arc::from(path));
        let errors = self.errors;
        Consumer::new(BY_FIELDS, move |message| {
            let mut params = PathParams::default();
            let mut bind = |route: &Route, params: &PathParams, errors: Option<ErrorMode>| {
                route.bind(params).map(|c| c.or_errors(errors))
            };
            match routing.find(
                &event,
                &path,
                &mut params,
                Some(&message.content),
                None,
                &mut bind,
            ) {
                Some(Hit::Bound(consumer)) => consumer.invoke(message),
                _ => {
                    tracing::warn!(
                        event = &*event,
                        "no route's field patterns match this message; dropped"
                    );
                    Invocation::Async(Box::pin(std::future::ready(ConsumerResult::Ok(()))))
                }
            }
        })
        .or_errors(errors)
    }

    /// Tries the entries in order; `accept` decides whether a route whose event, pattern (and fields,
    /// with `content`) match matches (its captures parse), and makes the result, given the error mode
    /// of the innermost table that chose one (`errors`: the enclosing tables').
    fn find<'a, T>(
        &'a self,
        event: &str,
        path: &str,
        params: &mut PathParams,
        content: Option<&Content>,
        errors: Option<ErrorMode>,
        accept: &mut Accept<'a, '_, T>,
    ) -> Option<Hit<'a, T>> {
        let errors = self.errors.or(errors);
        // Channels 2+'s URLRouter: `path.lstrip("/")`.
        let path = if self.url_router {
            path.trim_start_matches('/')
        } else {
            path
        };
        let index = self
            .index
            .get_or_init(|| PatternIndex::build(self.entries.iter().map(Entry::pattern)))
            .as_ref();
        let matched = index.map(|index| (index, index.matches(path)));
        for (i, entry) in self.entries.iter().enumerate() {
            // Skip entries whose pattern the set says can't match, without running their regex.
            if let Some((index, matched)) = &matched
                && !index.may_match(matched, i)
            {
                continue;
            }
            let mut local = params.clone();
            let hit = match entry {
                Entry::Route(route) => {
                    if !route.takes(event) {
                        continue;
                    }
                    match route.pattern() {
                        None => {}
                        Some(Ok(pattern)) if pattern.matches(path, &mut local).is_some() => {}
                        Some(_) => continue,
                    }
                    if route.has_fields() {
                        match content {
                            None => return Some(Hit::Deferred(route, local)),
                            Some(content) if route.fields_match(content, &mut local) => {}
                            Some(_) => continue,
                        }
                    }
                    accept(route, &local, errors).map(Hit::Bound)
                }
                Entry::Include { prefix, inner } => {
                    let rest = match prefix {
                        None => path,
                        Some(Ok(pattern)) => match pattern.matches(path, &mut local) {
                            Some(end) => &path[end..],
                            None => continue,
                        },
                        Some(Err(_)) => continue,
                    };
                    inner.find(event, rest, &mut local, content, errors, accept)
                }
                Entry::Protocol { protocol, inner } => {
                    if !protocol.takes(event) {
                        continue;
                    }
                    inner.find(event, path, &mut local, content, errors, accept)
                }
            };
            if hit.is_some() {
                return hit;
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
                    if let EventFilter::Exact(name) = route.events()
                        && crate::names::is_custom_channel(name)
                        && !out.contains(name)
                    {
                        out.push(name.clone());
                    }
                }
                Entry::Include { inner, .. } | Entry::Protocol { inner, .. } => {
                    inner.collect_channels(out)
                }
            }
        }
    }
}

#[path = "table_middleware.rs"]
mod middleware;

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
