//! The WebSocket handshake: match the `websocket.*` routes, join the declared groups, let the connect
//! consumer accept or reject while the client waits, then upgrade and hand the socket to its
//! [`Connection`] task.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::{Body, checks, open_reply_channel, plain, scope_of};
use crate::ReplyChannel;
use crate::layer::LayerMessage;
use crate::layer::queue::{Queue, cost_of};
use crate::message::{MessageBuilder, Scope, events};
use crate::routing::{Consumer, ErrorMode};
use crate::server::bindings::{BindError, Bindings};
use crate::server::connection::{self, Accept, Action, Connection, Endpoint, Owed};
use crate::server::listen::Accepted;
use crate::server::{Shared, invoke, origin};

/// What the connect consumer decided.
enum Decision {
    /// Accept, with what the accept asked to add to the 101 (a subprotocol, headers).
    Accept(Accept),
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

/// Answers an upgrade request: 400, 405 or 426 for a handshake RFC 6455 refuses (`checks`), 403 for an
/// `Origin` that is not allowed (`server::origin`), 404 when no `websocket.*` route matches, 403 when the
/// connect consumer rejects (or a declared group name is invalid), 500 when it fails or accepts with a
/// subprotocol the client did not offer, 503 when the layer can't open a reply channel or join a group;
/// otherwise 101, with the subprotocol and headers the accept chose, and the connection's task spawned.
///
/// From the moment the connect consumer is dispatched, a disconnect is owed: a refusal (403, 500, the
/// connect timeout) runs the disconnect consumer with code 1006 in a task of its own, as does a client
/// that goes away while the connect consumer runs (hyper then drops this future); after the 101 the
/// connection's task owes it.
#[allow(clippy::manual_async_fn)] // on purpose: see the comment in the body
pub(super) fn websocket(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    secure: bool,
    mut req: Request<()>,
) -> impl Future<Output = Response<Body>> + Send + 'static {
    // An `async` block, not an `async fn`: that would copy its arguments (the request, 240 bytes) into
    // locals of its state, beside themselves.
    async move {
        // RFC 6455 4.2.1 (`checks`), then the Origin (`server::origin`): neither runs anything of the app.
        let key = match checks::handshake(&req) {
            Ok(key) => key,
            Err(bad) => {
                tracing::debug!(problem = ?bad, path = req.uri().path(), "bad WebSocket handshake refused");
                return bad.response();
            }
        };
        if let Some(refusal) = origin_refusal(&shared, &req) {
            return refusal;
        }
        let mut scope = scope_of(&req, client, secure, true);
        if let Err((status, text)) = crate::auth::websocket(&shared.routing, &mut scope).await {
            return plain(status, text);
        }
        let scope = Arc::new(scope);
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
        crate::server::observe::record_channel(&channel);
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
                crate::metrics::layer_error("group_add");
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
                decision: Decision::Accept(Accept::default()),
                early: Vec::new(),
                running: None,
            },
            Some(consumer) => {
                owed.dispatched();
                run_connect(&shared, &scope, &queue, &reply, consumer).await
            }
        };
        let accept = match decision {
            Decision::Accept(accept) => accept,
            Decision::Reject => {
                owed.end();
                return plain(StatusCode::FORBIDDEN, "Forbidden");
            }
            Decision::Failed => {
                owed.end();
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        if let Some(chosen) = &accept.subprotocol
            && !scope.subprotocols.contains(chosen)
        {
            // A browser fails a connection whose server picked a subprotocol it did not offer: refuse here,
            // where the cause can be named, rather than send a 101 the client will drop.
            tracing::error!(
                subprotocol = %chosen,
                offered = ?scope.subprotocols,
                path = %scope.path,
                "connect consumer accepted with a subprotocol the client did not offer; refusing with 500"
            );
            owed.end();
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }

        let Some(endpoint) = owed.take() else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let upgrade = hyper::upgrade::on(&mut req);
        let connection = Connection::new(endpoint, early, &shared);
        // In this handshake's span, when it is on (`observe`): the connection's events, and its consumers',
        // carry its fields. Off (the default at `info`), the connection holds no span at all.
        let span = tracing::Span::current();
        Accepted {
            connection,
            upgrade,
            running,
            span: (!span.is_disabled()).then_some(span),
        }
        .start();
        // Last, right before the 101 goes back to the access log, which takes it in this same poll.
        crate::server::observe::accepted(channel);
        switching_protocols(key, accept)
    }
}

/// Refuses a handshake whose `Origin` is neither the host it was sent to nor allowed (403), logging the
/// origin; see `server::origin` for the rule.
fn origin_refusal<B>(shared: &Shared, req: &Request<B>) -> Option<Response<Body>> {
    let headers = req.headers();
    // The rule tells none, one and several `Origin` headers apart: two say "several", so no more are
    // read, and they stay on the stack. Most clients other than browsers send none: then nothing more
    // is looked up.
    let mut origins: [&[u8]; 2] = [&[]; 2];
    let mut count = 0;
    for (slot, value) in origins.iter_mut().zip(headers.get_all(header::ORIGIN)) {
        *slot = value.as_bytes();
        count += 1;
    }
    if count == 0 {
        return None;
    }
    let origins = &origins[..count];
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let refused = origin::check(origins, host, &shared.config.allowed_origins).err()?;
    tracing::info!(
        origin = %String::from_utf8_lossy(origins.first().copied().unwrap_or_default()),
        host,
        path = req.uri().path(),
        %refused,
        "WebSocket refused: cross-origin handshake (see ServerConfig::allowed_origins)"
    );
    Some(plain(
        StatusCode::FORBIDDEN,
        "Forbidden: origin not allowed",
    ))
}

/// The 101 response that completes the upgrade: the accept's headers, then the handshake's own (which
/// an accept can't set: `builtin` refuses those names), and the subprotocol chosen.
fn switching_protocols(key: String, accept: Accept) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    for (name, value) in accept.headers {
        headers.append(name, value);
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    // The accept key's own buffer becomes the header's, without a copy.
    if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(key)) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    if let Some(value) = accept
        .subprotocol
        .and_then(|name| HeaderValue::from_str(&name).ok())
    {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    response
}

/// What a message on the reply channel decides while the connect consumer runs: `accept` accepts,
/// `reject` and `close` reject (the built-in events `websocket.accept` and `websocket.close` alike); an
/// HTTP response decides nothing. A malformed `websocket.accept` (a subprotocol that is not a token,
/// headers that are not `[name, value]` pairs or that the handshake sets itself) fails the handshake
/// (500), as a consumer's error would: ignoring it would leave the client waiting for a decision that
/// won't come. Data (`text`, `bytes`, `websocket.send`) depends on the connect
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
        LayerMessage::Accept => Some(Decision::Accept(Accept::default())),
        LayerMessage::Reject | LayerMessage::Close(_) => Some(Decision::Reject),
        // Channels 1.x: sending data before deciding accepts the connection.
        LayerMessage::Text(_) | LayerMessage::Binary(_) => {
            early.push(message);
            return Some(Decision::Accept(Accept::default()));
        }
        LayerMessage::Json(event) => match connection::builtin_action(event) {
            Some(Ok(Action::Accept(accept))) => Some(Decision::Accept(accept)),
            Some(Ok(Action::Close(..))) => Some(Decision::Reject),
            Some(Err(problem))
                if event.get("type").and_then(|t| t.as_str()) == Some("websocket.accept") =>
            {
                tracing::error!(consumer = connect.name(), %problem, "malformed `websocket.accept`; refusing the handshake with 500");
                Some(Decision::Failed)
            }
            Some(Err(problem)) => {
                tracing::warn!(%problem, "malformed built-in event sent to a connecting socket; ignored");
                None
            }
            // `websocket.send` (1.x mode: data, which accepts; written first).
            Some(Ok(Action::Send(_) | Action::Nothing)) => {
                early.push(message);
                return Some(Decision::Accept(Accept::default()));
            }
            // Typed events: dispatched to the consumer once the connection is open; in 1.x's mode they
            // accept it, as data does.
            None => {
                early.push(message);
                return data_accepts.then(|| Decision::Accept(Accept::default()));
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
        (Decision::Accept(_), None) => Some((consumer.name(), events::WEBSOCKET_CONNECT, run)),
        // It accepted, then failed: the client sees the upgrade, then close 1011.
        (Decision::Accept(_), Some(Err(failure))) => Some((
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
