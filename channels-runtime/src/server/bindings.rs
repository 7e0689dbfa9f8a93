//! Which consumers a WebSocket connection uses, decided once at the handshake.

use crate::message::events;
use crate::routing::{BoundRoutes, Consumer, EventFilter, Found, PathParams, Route, Routing};

/// The consumers bound to one connection's path, with their captures parsed.
#[derive(Debug, Default)]
pub(crate) struct Bindings {
    pub(crate) connect: Option<Consumer>,
    pub(crate) receive: Option<Consumer>,
    pub(crate) disconnect: Option<Consumer>,
    /// A class-based consumer, which also takes typed events sent to the connection.
    pub(crate) events: Option<Consumer>,
    /// Group names declared by the bound routes, filled in from the captures. A boxed slice (two words,
    /// not a `Vec`'s three): every open connection keeps it.
    pub(crate) groups: Box<[String]>,
}

/// Why a handshake found no usable binding.
#[derive(Debug)]
pub(crate) enum BindError {
    /// No `websocket.*` route matches the path (or its captures don't parse).
    NoRoute,
    /// A declared group name, filled in from the path, breaks Channels' rule.
    InvalidGroup(String, crate::names::NameError),
}

impl Bindings {
    /// Resolves the three WebSocket events for `path`. Each route is bound at most once (see
    /// [`BoundRoutes`]): a class-based consumer that wins several events is created once, and its
    /// per-connection state is shared by all of them.
    pub(crate) fn resolve(routing: &Routing, path: &str) -> Result<Bindings, BindError> {
        let mut bound = BoundRoutes::default();
        let found = [
            events::WEBSOCKET_CONNECT,
            events::WEBSOCKET_RECEIVE,
            events::WEBSOCKET_DISCONNECT,
        ]
        .map(|event| routing.find_route(event, path, &mut bound));
        if found.iter().all(Option::is_none) {
            return Err(BindError::NoRoute);
        }
        let mut bindings = Bindings::default();
        // Routes whose declared groups are already in `groups`.
        // One per event at most: on the stack.
        let mut joined: [Option<&Route>; 3] = [None; 3];
        let mut slots: [Option<Consumer>; 3] = [None, None, None];
        let mut groups = Vec::new();
        for (i, (slot, found)) in slots.iter_mut().zip(found).enumerate() {
            let Some(Found {
                route,
                params,
                consumer,
            }) = found
            else {
                continue;
            };
            if !joined.iter().flatten().any(|r| std::ptr::eq(*r, route)) {
                joined[i] = Some(route);
                for template in route.groups() {
                    let name = fill_template(template, &params);
                    if let Err(reason) = crate::names::validate_group_name(&name) {
                        return Err(BindError::InvalidGroup(name, reason));
                    }
                    if !groups.contains(&name) {
                        groups.push(name);
                    }
                }
            }
            if matches!(route.events(), EventFilter::WebSocket) && bindings.events.is_none() {
                bindings.events = Some(consumer.clone());
            }
            *slot = Some(consumer);
        }
        let [connect, receive, disconnect] = slots;
        bindings.connect = connect;
        bindings.receive = receive;
        bindings.disconnect = disconnect;
        bindings.groups = groups.into_boxed_slice();
        Ok(bindings)
    }
}

/// Fills `{name}` placeholders of a group template from the path captures.
pub(crate) fn fill_template(template: &str, params: &PathParams) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push_str(params.get(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
