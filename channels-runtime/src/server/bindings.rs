//! Which consumers a WebSocket connection uses, decided once at the handshake.

use crate::message::events;
use crate::routing::{Consumer, EventFilter, Found, PathParams, Routing};

/// The consumers bound to one connection's path, with their captures parsed.
#[derive(Debug, Default)]
pub(crate) struct Bindings {
    pub(crate) connect: Option<Consumer>,
    pub(crate) receive: Option<Consumer>,
    pub(crate) disconnect: Option<Consumer>,
    /// A class-based consumer, which also takes typed events sent to the connection.
    pub(crate) events: Option<Consumer>,
    /// Group names declared by the bound routes, filled in from the captures.
    pub(crate) groups: Vec<String>,
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
    /// Resolves the three WebSocket events for `path`. A route that wins several events (a class-based
    /// consumer) is bound once, so its per-connection state is shared by all of them.
    pub(crate) fn resolve(routing: &Routing, path: &str) -> Result<Bindings, BindError> {
        let found = [
            routing.find_route(events::WEBSOCKET_CONNECT, path),
            routing.find_route(events::WEBSOCKET_RECEIVE, path),
            routing.find_route(events::WEBSOCKET_DISCONNECT, path),
        ];
        if found.iter().all(Option::is_none) {
            return Err(BindError::NoRoute);
        }
        let mut bound: Vec<(*const crate::routing::Route, Consumer)> = Vec::with_capacity(3);
        let mut bindings = Bindings::default();
        let mut slots: [Option<Consumer>; 3] = [None, None, None];
        for (slot, found) in slots.iter_mut().zip(found.iter()) {
            let Some(Found { route, params }) = found else {
                continue;
            };
            let key = *route as *const _;
            let consumer = match bound.iter().find(|(k, _)| *k == key) {
                Some((_, consumer)) => consumer.clone(),
                None => {
                    // `find_route` checked that the captures parse, so binding succeeds.
                    let Some(consumer) = route.bind(params) else {
                        return Err(BindError::NoRoute);
                    };
                    for template in route.groups() {
                        let name = fill_template(template, params);
                        if let Err(reason) = crate::names::validate_group_name(&name) {
                            return Err(BindError::InvalidGroup(name, reason));
                        }
                        if !bindings.groups.contains(&name) {
                            bindings.groups.push(name);
                        }
                    }
                    bound.push((key, consumer.clone()));
                    consumer
                }
            };
            if matches!(route.events(), EventFilter::WebSocket) && bindings.events.is_none() {
                bindings.events = Some(consumer.clone());
            }
            *slot = Some(consumer);
        }
        let [connect, receive, disconnect] = slots;
        bindings.connect = connect;
        bindings.receive = receive;
        bindings.disconnect = disconnect;
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
