//! The WebSocket handshake: match the `websocket.*` routes, join the declared groups, let the connect
//! consumer accept or reject while the client waits, then upgrade and hand the socket to its
//! [`Connection`] task.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::{Body, open_reply_channel, plain, scope_of};
use crate::ReplyChannel;
use crate::layer::LayerMessage;
use crate::layer::queue::{Queue, cost_of};
use crate::message::{MessageBuilder, Scope, events};
use crate::routing::{Consumer, ErrorMode};
use crate::server::bindings::{BindError, Bindings};
use crate::server::connection::{self, Action, Connection, Endpoint, Owed};
use crate::server::{Shared, invoke};

/// What the connect consumer decided.
enum Decision {
    Accept,
    Reject,
    Failed,
}

/// How the connect phase ended.
struct Connect {
    decision: Decision,
    /// Data the connect consumer sent before deciding (which accepts, as in Channels 1.x), to write first.
    early: Vec<LayerMessage>,
    /// The connect consumer, if it accepted and is still running (or failed after accepting).
    running: Option<connection::Running>,
}

/// Answers an upgrade request: 400 for a bad handshake (an HTTP/1.0 request included), 404 when no
/// `websocket.*` route matches, 403 when the connect consumer rejects (or a declared group name is
/// invalid), 500 when it fails, 503 when the layer can't open a reply channel or join a group; otherwise
/// 101, with the connection's task spawned.
///
/// From the moment the connect consumer is dispatched, a disconnect is owed: a refusal (403, 500, the
/// connect timeout) runs the disconnect consumer with code 1006 in a task of its own, as does a client
/// that goes away while the connect consumer runs (hyper then drops this future); after the 101 the
/// connection's task owes it.
pub(super) async fn websocket(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    if req.version() < Version::HTTP_11 {
        // RFC 6455 4.1: the handshake is an HTTP/1.1 (or later) GET. hyper can't upgrade an HTTP/1.0
        // connection, so accepting would run the connect consumer for a socket that never opens.
        return plain(
            StatusCode::BAD_REQUEST,
            "Bad WebSocket handshake: needs HTTP/1.1 or later",
        );
    }
    let Some(key) = accept_key(&req) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "Bad WebSocket handshake: needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
        );
    };
    let scope = Arc::new(scope_of(&req, client));
    let bindings = match Bindings::resolve(&shared.routing, &scope.path) {
        Ok(bindings) => bindings,
        Err(BindError::NoRoute) => return plain(StatusCode::NOT_FOUND, "Not Found"),
        Err(BindError::InvalidGroup(name, reason)) => {
            tracing::warn!(path = %scope.path, group = %name, %reason, "refusing connection: declared group name is invalid");
            return plain(StatusCode::FORBIDDEN, "Forbidden");
        }
    };
    let (inbox, reply) = match open_reply_channel(&shared, "specific.").await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    // Bounded by bytes from here on: see `ServerConfig::outbound_budget`.
    let queue = inbox.queue().clone();
    queue.set_budget(shared.budget.clone());
    let channel = inbox.shared_name();
    let groups = bindings.groups.clone();
    let connect = bindings.connect.clone();
    let mut owed = Owed::new(Endpoint {
        scope: scope.clone(),
        inbox,
        reply: reply.clone(),
        bindings,
        layer: shared.layer.clone(),
        tracked: shared.connections.enter(),
    });
    for group in &groups {
        if let Err(error) = shared.layer.group_add(group, &channel).await {
            tracing::error!(%error, group, "could not join declared group");
            if let Some(endpoint) = owed.take() {
                endpoint.leave().await;
            }
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    }

    let Connect {
        decision,
        early,
        running,
    } = match connect {
        None => Connect {
            decision: Decision::Accept,
            early: Vec::new(),
            running: None,
        },
        Some(consumer) => {
            owed.dispatched();
            run_connect(&shared, &scope, &queue, &reply, consumer).await
        }
    };
    match decision {
        Decision::Accept => {}
        Decision::Reject => {
            owed.end();
            return plain(StatusCode::FORBIDDEN, "Forbidden");
        }
        Decision::Failed => {
            owed.end();
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    }

    let Some(endpoint) = owed.take() else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let connection = Connection::new(endpoint, early, &shared);
    let run = connection.run(on_upgrade, running);
    tracing::trace!(
        bytes = std::mem::size_of_val(&run),
        conn = std::mem::size_of::<Connection>(),
        socket = std::mem::size_of::<connection::Socket>(),
        running = std::mem::size_of::<Option<connection::Running>>(),
        "connection task state"
    );
    tokio::spawn(run);
    switching_protocols(&key)
}

/// The `Sec-WebSocket-Accept` value for a version 13 handshake; `None` for a bad handshake.
fn accept_key(req: &Request<Incoming>) -> Option<String> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY)?;
    let version = req.headers().get(header::SEC_WEBSOCKET_VERSION)?;
    (version == "13").then(|| derive_accept_key(key.as_bytes()))
}

/// The 101 response that completes the upgrade.
fn switching_protocols(key: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(key) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// What a message on the reply channel decides while the connect consumer runs: `accept` accepts,
/// `reject` and `close` reject (the built-in events `websocket.accept` and `websocket.close` alike); an
/// HTTP response decides nothing. Data (`text`, `bytes`, `websocket.send`) depends on the connect
/// consumer's error mode: in Channels 1.x's it accepts (and is kept in `early`, to write first); in
/// Channels 4's it is an error, logged and dropped, as Daphne 4 raises "Socket has not been accepted,
/// so cannot send over it", and decides nothing. Typed events are kept for the consumer, and accept
/// only in 1.x's mode. What is not kept gives its bytes back to the budget at once.
fn decide(
    message: LayerMessage,
    early: &mut Vec<LayerMessage>,
    queue: &Queue,
    connect: &Consumer,
) -> Option<Decision> {
    let data_accepts = connect.error_mode() == ErrorMode::KeepOpen;
    let is_data = match &message {
        LayerMessage::Text(_) | LayerMessage::Binary(_) => true,
        LayerMessage::Json(event) => matches!(
            connection::builtin_action(event),
            Some(Ok(Action::Send(_) | Action::Nothing))
        ),
        _ => false,
    };
    if is_data && !data_accepts {
        tracing::error!(
            consumer = connect.name(),
            "data for the socket (from the connect consumer, or a group it joined) came before the \
             connection was accepted; dropped (Channels 4: \"Socket has not been accepted, so cannot send \
             over it\"): call `message.reply_channel.accept()` first, or use errors = \"keep_open\" \
             (Channels 1.x: data accepts)"
        );
        queue.release(cost_of(&message));
        return None;
    }
    let decision = match &message {
        LayerMessage::Accept => Some(Decision::Accept),
        LayerMessage::Reject | LayerMessage::Close(_) => Some(Decision::Reject),
        // Channels 1.x: sending data before deciding accepts the connection.
        LayerMessage::Text(_) | LayerMessage::Binary(_) => {
            early.push(message);
            return Some(Decision::Accept);
        }
        LayerMessage::Json(event) => match connection::builtin_action(event) {
            Some(Ok(Action::Accept)) => Some(Decision::Accept),
            Some(Ok(Action::Close(..))) => Some(Decision::Reject),
            Some(Err(problem)) => {
                tracing::warn!(%problem, "malformed built-in event sent to a connecting socket; ignored");
                None
            }
            // `websocket.send` (1.x mode: data, which accepts; written first).
            Some(Ok(Action::Send(_) | Action::Nothing)) => {
                early.push(message);
                return Some(Decision::Accept);
            }
            // Typed events: dispatched to the consumer once the connection is open; in 1.x's mode they
            // accept it, as data does.
            None => {
                early.push(message);
                return data_accepts.then_some(Decision::Accept);
            }
        },
        LayerMessage::Http(_) => None,
    };
    queue.release(cost_of(&message));
    decision
}

/// Runs the connect consumer until it accepts, rejects, returns, fails or runs out of
/// `connect_timeout`. What it sent first wins: a consumer that accepts and then fails is accepted (its
/// failure then closes the socket with 1011).
async fn run_connect(
    shared: &Shared,
    scope: &Arc<Scope>,
    queue: &Queue,
    reply: &ReplyChannel,
    consumer: Consumer,
) -> Connect {
    let mut early = Vec::new();
    let message = MessageBuilder::new(events::WEBSOCKET_CONNECT, scope.clone())
        .order(0)
        .build(reply.clone());
    let mut run = invoke::start(&consumer, message, &shared.layer);
    let deadline = tokio::time::sleep(shared.config.connect_timeout);
    tokio::pin!(deadline);
    let mut finished = None;
    let decision = loop {
        // What the consumer sent comes first, even when it has returned since.
        if let Some(message) = queue.try_pop() {
            match decide(message, &mut early, queue, &consumer) {
                Some(decision) => break decision,
                None => continue,
            }
        }
        if let Some(outcome) = finished.take() {
            match outcome {
                Ok(()) => {
                    tracing::warn!(consumer = consumer.name(), path = %scope.path, "connect consumer returned without accepting or rejecting; rejecting (call message.reply_channel.accept())");
                    break Decision::Reject;
                }
                Err(failure) => {
                    invoke::log_failure(consumer.name(), events::WEBSOCKET_CONNECT, &failure);
                    break Decision::Failed;
                }
            }
        }
        tokio::select! {
            biased;
            message = queue.pop() => {
                if let Some(decision) = decide(message, &mut early, queue, &consumer) {
                    break decision;
                }
            }
            outcome = &mut run => { finished = Some(outcome); }
            () = &mut deadline => {
                tracing::warn!(consumer = consumer.name(), path = %scope.path, "connect consumer did not accept or reject in time; rejecting");
                break Decision::Reject;
            }
        }
    };
    let running = match (&decision, finished) {
        (Decision::Accept, None) => Some((consumer.name(), events::WEBSOCKET_CONNECT, run)),
        // It accepted, then failed: the client sees the upgrade, then close 1011.
        (Decision::Accept, Some(Err(failure))) => Some((
            consumer.name(),
            events::WEBSOCKET_CONNECT,
            invoke::RunFuture::ended(Err(failure)),
        )),
        _ => None,
    };
    Connect {
        decision,
        early,
        running,
    }
}
