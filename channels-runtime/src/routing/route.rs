//! One route ([`Route`]): which events it takes ([`EventFilter`]), an optional path pattern, Channels
//! 1.x field patterns, and how its consumer is bound to the captures ([`Binder`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::captures::PathParams;
use super::consumer::Consumer;
use super::error::RoutingError;
use super::pattern::{PathPattern, Pattern};
use crate::message::Content;

/// Binds a matched route's captures to its consumer; `None` when a capture does not parse.
///
/// It parses the captures and, for a class-based consumer, creates the per-connection instance. The
/// server calls it at most once per connection for each route (the same binding serves every event that
/// route wins), and only for a route whose event and pattern match.
pub type Binder = Arc<dyn Fn(&PathParams) -> Option<Consumer> + Send + Sync>;

/// Which events a route takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// One event type or channel name.
    Exact(Arc<str>),
    /// Every `websocket.*` event, and typed events sent to the connection (a class-based consumer).
    ///
    /// Only `websocket.*` events are routed this way: a custom channel goes to a route that names it, never
    /// to a class-based consumer's route without one (typed events reach the instance through its
    /// connection, not through the table).
    WebSocket,
}

/// A Channels 1.x field pattern: the message's top-level `field` must be a string matching `pattern`.
type FieldPattern = (Arc<str>, Result<Pattern, RoutingError>);

/// One route: events, an optional path pattern, and the consumer.
#[derive(Clone)]
pub struct Route {
    events: EventFilter,
    pattern: Option<Result<Pattern, RoutingError>>,
    fields: Vec<FieldPattern>,
    consumer_name: &'static str,
    binder: Binder,
    groups: Vec<Cow<'static, str>>,
    /// Middleware run before this route's consumers, after its tables' (see [`Route::with_middleware`]).
    middleware: Vec<Arc<dyn crate::auth::Middleware>>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("events", &self.events)
            .field(
                "path",
                &self
                    .pattern
                    .as_ref()
                    .map(|p| p.as_ref().map(Pattern::source)),
            )
            .field(
                "fields",
                &self
                    .fields
                    .iter()
                    .map(|(f, p)| (f, p.as_ref().map(Pattern::source)))
                    .collect::<Vec<_>>(),
            )
            .field("consumer", &self.consumer_name)
            .field("middleware", &self.middleware)
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
            fields: Vec::new(),
            consumer_name,
            binder: Arc::new(binder),
            groups: Vec::new(),
            middleware: Vec::new(),
        }
    }

    /// A route to a consumer that takes no captures.
    pub fn to(event: &str, path: Option<&str>, consumer: Consumer) -> Self {
        let name = consumer.name();
        Route::new(event, path, name, move |_| Some(consumer.clone()))
    }

    /// A route for a class-based consumer: every `websocket.*` event of matching paths (and typed events sent
    /// to the connection) go to one consumer, bound once per connection so it can keep state: `binder`
    /// (which creates the instance) runs once for each connection that takes this route.
    pub fn class(
        path: Option<&str>,
        consumer_name: &'static str,
        binder: impl Fn(&PathParams) -> Option<Consumer> + Send + Sync + 'static,
    ) -> Self {
        Route {
            events: EventFilter::WebSocket,
            pattern: path.map(Pattern::new),
            fields: Vec::new(),
            consumer_name,
            binder: Arc::new(binder),
            groups: Vec::new(),
            middleware: Vec::new(),
        }
    }

    /// Replaces the route's path pattern with `pattern`, in the syntax it was written in: a Channels 2+
    /// `re_path`/`path` entry of a [`Routing::url_router`](super::Routing::url_router) is
    /// `route.at(PathPattern::re_path(r"ws/chat/(?P<room_name>\w+)/$"))`.
    pub fn at(mut self, pattern: PathPattern) -> Self {
        self.pattern = Some(pattern.compile(true));
        self
    }

    /// Adds a Channels 1.x field pattern: the route only takes messages whose top-level `field` is a
    /// string matching `regex` from its start (`re.match`); the regex's named captures are captures like
    /// the path's. `route("chat.receive", chat_join, command=r"^join$")` is
    /// `Route::to("chat.receive", None, chat_join).with_field("command", r"^join$")`.
    ///
    /// Which route takes a message then depends on the message, so it is decided for each message (the
    /// route's consumer is bound for each one: a class-based consumer gets a new instance per message).
    /// A message that no route's fields match is logged and dropped.
    pub fn with_field(mut self, field: &str, regex: &str) -> Self {
        self.fields.push((Arc::from(field), Pattern::new(regex)));
        self
    }

    /// Declares groups that every connection taking this route joins before its connect consumer runs
    /// and leaves when it closes (Channels 4's `groups = [...]`). `{name}` is filled in from the path
    /// capture `name`; a filled-in name that breaks Channels' rule refuses the connection with 403.
    pub fn with_groups(
        mut self,
        groups: impl IntoIterator<Item = impl Into<Cow<'static, str>>>,
    ) -> Self {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// Adds `middleware` to this route: it runs before the route's consumers, after the middleware of
    /// the tables the route is in and the route's middleware added before it. See
    /// [`auth`](crate::auth).
    ///
    /// ```
    /// use channels_runtime::auth::{self, Refusal};
    /// use channels_runtime::routing::{Consumer, Route};
    /// use channels_runtime::Message;
    /// let admin = Consumer::from_async("admin", |_m: Message| async {});
    /// let route = Route::to("websocket.connect", Some("^/admin/"), admin)
    ///     .with_middleware(auth::from_fn("staff_only", |scope| {
    ///         if scope.cookie("staff") == Some("1") { Ok(()) } else { Err(Refusal::forbidden("staff only")) }
    ///     }));
    /// ```
    pub fn with_middleware(mut self, middleware: impl crate::auth::Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// [`with_middleware`](Self::with_middleware) for a middleware already shared.
    pub fn with_shared_middleware(mut self, middleware: Arc<dyn crate::auth::Middleware>) -> Self {
        self.middleware.push(middleware);
        self
    }

    /// The middleware added with [`with_middleware`](Self::with_middleware), in order.
    pub(crate) fn middleware(&self) -> &[Arc<dyn crate::auth::Middleware>] {
        &self.middleware
    }

    /// The group templates declared with [`with_groups`](Self::with_groups).
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| &**g)
    }

    /// Binds the captures to the consumer; `None` when a capture does not parse. Each call runs the
    /// binder again (a class-based consumer gets a new instance).
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

    /// The path pattern (`None` for a route without a path), or why it did not compile.
    pub(super) fn pattern(&self) -> Option<&Result<Pattern, RoutingError>> {
        self.pattern.as_ref()
    }

    /// The field patterns' compile errors.
    pub(super) fn field_errors(&self) -> impl Iterator<Item = &RoutingError> {
        self.fields.iter().filter_map(|(_, p)| p.as_ref().err())
    }

    /// Whether the route has field patterns (and so is decided message by message).
    pub(super) fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    /// Whether every field pattern matches `content`, adding their captures to `params`.
    pub(super) fn fields_match(&self, content: &Content, params: &mut PathParams) -> bool {
        self.fields.iter().all(|(field, pattern)| {
            let Ok(pattern) = pattern else { return false };
            content.as_json()[&**field]
                .as_str()
                .is_some_and(|value| pattern.matches(value, params).is_some())
        })
    }

    /// Whether this route takes `event`: its own event, or for a class-based consumer every
    /// `websocket.*` event (never a custom channel: that takes a route naming it).
    pub(super) fn takes(&self, event: &str) -> bool {
        match &self.events {
            EventFilter::Exact(name) => &**name == event,
            EventFilter::WebSocket => event.starts_with(crate::names::events::WEBSOCKET_PREFIX),
        }
    }
}
