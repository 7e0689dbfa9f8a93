//! Which middleware a request or connection runs: the tables' and the route's, found by walking the table
//! the way [`Routing::resolve`] does.

use std::sync::Arc;

use super::{Entry, Routing};
use crate::auth::Middleware;
use crate::routing::PathParams;

type Stack = Vec<Arc<dyn Middleware>>;

impl Routing {
    /// Whether this table, or any table or route in it, has middleware (when none does, a request pays
    /// nothing for them).
    pub(crate) fn has_middleware(&self) -> bool {
        !self.middleware.is_empty()
            || self.entries.iter().any(|entry| match entry {
                Entry::Route(route) => !route.middleware().is_empty(),
                Entry::Include { inner, .. } | Entry::Protocol { inner, .. } => {
                    inner.has_middleware()
                }
            })
    }

    /// The middleware to run for a connection at `path` whose events are `events` (the three WebSocket
    /// events, or `http.request`): for the first route taking each event, its tables' middleware (outer
    /// first) then its own; each middleware once, in the order first met.
    ///
    /// The walk follows the route table's order and patterns as `resolve` does; a route whose pattern
    /// matches counts as found even when a capture then fails to parse (`resolve` would try the next
    /// one), and a route with field patterns counts as found for every message (its fields are read per
    /// message, after the middleware ran).
    pub(crate) fn middleware_for(&self, events: &[&str], path: &str) -> Stack {
        let mut stack = Stack::new();
        for event in events {
            let mut found = Stack::new();
            if self.walk(event, path, &mut found) {
                for middleware in found {
                    if !stack.iter().any(|m| Arc::ptr_eq(m, &middleware)) {
                        stack.push(middleware);
                    }
                }
            }
        }
        stack
    }

    /// Pushes the middleware of this table and of the route that takes `event` at `path` (and of the
    /// tables between); `false`, with `out` as it was, when no route does.
    fn walk(&self, event: &str, path: &str, out: &mut Stack) -> bool {
        let path = if self.url_router {
            path.trim_start_matches('/')
        } else {
            path
        };
        let start = out.len();
        out.extend(self.middleware.iter().cloned());
        for entry in &self.entries {
            let mut params = PathParams::default();
            let found = match entry {
                Entry::Route(route) => {
                    if !route.takes(event) {
                        continue;
                    }
                    match route.pattern() {
                        None => {}
                        Some(Ok(pattern)) if pattern.matches(path, &mut params).is_some() => {}
                        Some(_) => continue,
                    }
                    out.extend(route.middleware().iter().cloned());
                    true
                }
                Entry::Include { prefix, inner } => {
                    let rest = match prefix {
                        None => path,
                        Some(Ok(pattern)) => match pattern.matches(path, &mut params) {
                            Some(end) => &path[end..],
                            None => continue,
                        },
                        Some(Err(_)) => continue,
                    };
                    inner.walk(event, rest, out)
                }
                Entry::Protocol { protocol, inner } => {
                    if !protocol.takes(event) {
                        continue;
                    }
                    inner.walk(event, path, out)
                }
            };
            if found {
                return true;
            }
        }
        out.truncate(start);
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::Message;
    use crate::auth::{self, Middleware, Refusal};
    use crate::routing::{Consumer, PathPattern, Route, Routing};
    use std::sync::Arc;

    fn named(name: &'static str) -> impl Middleware {
        auth::from_fn(name, |_| Ok::<(), Refusal>(()))
    }

    fn names(stack: &[Arc<dyn Middleware>]) -> Vec<String> {
        stack.iter().map(|m| format!("{m:?}")).collect()
    }

    fn consumer() -> Consumer {
        Consumer::from_async("c", |_m: Message| async {})
    }

    #[test]
    fn outer_tables_then_inner_then_route_in_order() {
        let inner = Routing::url_router().with_middleware(named("inner")).route(
            Route::to("websocket.connect", None, consumer())
                .at(PathPattern::path("chat/<str:room>/"))
                .with_middleware(named("route1"))
                .with_middleware(named("route2")),
        );
        let routing = Routing::url_router()
            .with_middleware(named("outer1"))
            .mount(PathPattern::path("ws/"), inner)
            .with_middleware(named("outer2"));
        assert!(routing.has_middleware());
        assert_eq!(
            names(&routing.middleware_for(&["websocket.connect"], "/ws/chat/lobby/")),
            [
                "FromFn(\"outer1\")",
                "FromFn(\"outer2\")",
                "FromFn(\"inner\")",
                "FromFn(\"route1\")",
                "FromFn(\"route2\")"
            ]
        );
        // No route: nothing runs (the request gets its 404).
        assert!(
            routing
                .middleware_for(&["websocket.connect"], "/other/")
                .is_empty()
        );
        assert!(
            !Routing::new()
                .route(Route::to("x", None, consumer()))
                .has_middleware()
        );
    }

    #[test]
    fn each_middleware_once_for_the_three_websocket_events() {
        let shared: Arc<dyn Middleware> = Arc::new(named("table"));
        let routing = Routing::new()
            .with_shared_middleware(shared)
            .route(Route::to("websocket.connect", Some("^/a/"), consumer()))
            .route(
                Route::to("websocket.receive", Some("^/a/"), consumer())
                    .with_middleware(named("receive_only")),
            );
        assert_eq!(
            names(&routing.middleware_for(
                &[
                    "websocket.connect",
                    "websocket.receive",
                    "websocket.disconnect"
                ],
                "/a/"
            )),
            ["FromFn(\"table\")", "FromFn(\"receive_only\")"]
        );
    }
}
