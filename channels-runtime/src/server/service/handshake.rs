//! The WebSocket handshake: match the `websocket.*` routes, join the declared groups, let the connect
//! consumer accept or reject while the client waits, then upgrade and hand the socket to its
//! [`Connection`] task.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::{Body, open_reply_channel, plain, scope_of};
use crate::ReplyChannel;
use crate::layer::{Inbox, LayerMessage};
use crate::message::{MessageBuilder, Scope, events};
use crate::routing::Consumer;
use crate::server::bindings::{BindError, Bindings};
use crate::server::connection::{self, Connection};
use crate::server::{Shared, invoke, leave_groups};

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

/// Answers an upgrade request: 400 for a bad handshake, 404 when no `websocket.*` route matches, 403
/// when the connect consumer rejects (or a declared group name is invalid), 500 when it fails, 503 when
/// the layer can't open a reply channel or join a group; otherwise 101, with the connection's task
/// spawned.
pub(super) async fn websocket(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    mut req: Request<Incoming>,
) -> Response<Body> {
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
    for group in &bindings.groups {
        if let Err(error) = shared.layer.group_add(group, inbox.name()).await {
            tracing::error!(%error, group, "could not join declared group");
            leave_groups(&shared.layer, inbox.name(), &bindings.groups).await;
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    }

    let Connect {
        decision,
        early,
        running,
    } = match bindings.connect.clone() {
        None => Connect {
            decision: Decision::Accept,
            early: Vec::new(),
            running: None,
        },
        Some(consumer) => run_connect(&shared, &scope, &inbox, &reply, consumer).await,
    };
    match decision {
        Decision::Accept => {}
        Decision::Reject => {
            leave_groups(&shared.layer, inbox.name(), &bindings.groups).await;
            return plain(StatusCode::FORBIDDEN, "Forbidden");
        }
        Decision::Failed => {
            leave_groups(&shared.layer, inbox.name(), &bindings.groups).await;
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    }

    let on_upgrade = hyper::upgrade::on(&mut req);
    let connection = Connection {
        scope,
        inbox,
        reply,
        bindings,
        layer: shared.layer.clone(),
        early,
        max_pending: shared.config.max_pending_events,
        close_timeout: shared.config.close_timeout,
        shutdown: shared.shutdown.clone(),
        websocket: shared.config.websocket_config(),
        _tracked: shared.connections.enter(),
    };
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

/// What a message on the reply channel decides while the connect consumer runs: `accept` and data
/// accept (data is kept in `early`, to write first), `reject` and `close` reject; an HTTP response
/// decides nothing.
fn decide(message: LayerMessage, early: &mut Vec<LayerMessage>) -> Option<Decision> {
    match message {
        LayerMessage::Accept => Some(Decision::Accept),
        LayerMessage::Reject | LayerMessage::Close(_) => Some(Decision::Reject),
        // Channels 1.x: sending data before deciding accepts the connection.
        data @ (LayerMessage::Text(_) | LayerMessage::Binary(_) | LayerMessage::Json(_)) => {
            early.push(data);
            Some(Decision::Accept)
        }
        LayerMessage::Http(_) => None,
    }
}

/// Runs the connect consumer until it accepts, rejects, returns, fails or runs out of
/// `connect_timeout`. What it sent first wins: a consumer that accepts and then fails is accepted (its
/// failure then closes the socket with 1011).
async fn run_connect(
    shared: &Shared,
    scope: &Arc<Scope>,
    inbox: &Inbox,
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
        if let Some(message) = inbox.try_recv() {
            match decide(message, &mut early) {
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
            message = inbox.recv() => {
                if let Some(decision) = decide(message, &mut early) {
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
