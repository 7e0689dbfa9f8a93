//! The hyper service: plain HTTP requests go to `http.request` routes; WebSocket upgrade requests are
//! matched against the `websocket.*` routes and decided by the connect consumer before any upgrade.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::Shared;
use super::bindings::{BindError, Bindings};
use super::connection::Connection;
use super::invoke;
use crate::ReplyChannel;
use crate::layer::LayerMessage;
use crate::message::{MessageBuilder, Scope, events};

pub(crate) type Body = Full<Bytes>;

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn scope_of(req: &Request<Incoming>, client: Option<std::net::SocketAddr>) -> Scope {
    Scope {
        // ASGI's `path` is percent-decoded (Channels matches its routes against the decoded path);
        // `raw_path` keeps what the client sent.
        path: Arc::from(
            percent_encoding::percent_decode_str(req.uri().path())
                .decode_utf8_lossy()
                .as_ref(),
        ),
        raw_path: Arc::from(req.uri().path()),
        query_string: Arc::from(req.uri().query().unwrap_or_default()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        method: req.method().as_str().to_owned(),
        client,
        session: crate::Session::default(),
    }
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

/// A new process-local channel and the reply channel that writes to it, or the 503 to answer with.
async fn open_reply_channel(
    shared: &Shared,
    prefix: &str,
) -> Result<(crate::layer::Inbox, ReplyChannel), Response<Body>> {
    match shared.layer.new_channel(prefix).await {
        Ok(inbox) => {
            let reply = ReplyChannel::local(
                inbox.shared_name(),
                inbox.queue().clone(),
                shared.layer.clone(),
            );
            Ok((inbox, reply))
        }
        Err(error) => {
            tracing::error!(%error, "could not create a reply channel");
            Err(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
            ))
        }
    }
}

/// Answers one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    if is_upgrade(&req) {
        let mut response = websocket(shared, client, req).await;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            // The client asked to upgrade and won't get it: end the connection rather than leave it in limbo.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    } else {
        Ok(http(shared, client, req).await)
    }
}

async fn http(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    req: Request<Incoming>,
) -> Response<Body> {
    let scope = Arc::new(scope_of(&req, client));
    let Some(consumer) = shared.routing.resolve(events::HTTP_REQUEST, &scope.path) else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let limit = shared.config.max_message_size;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
            }
            return plain(StatusCode::BAD_REQUEST, "Bad request body");
        }
    };
    let (inbox, reply) = match open_reply_channel(&shared, "http.response.").await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let message = MessageBuilder::new(events::HTTP_REQUEST, scope)
        .bytes(body)
        .build(reply);
    let name = consumer.name();
    let mut run = invoke::start(&consumer, message, &shared.layer);
    let deadline = tokio::time::sleep(shared.config.http_timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            message = inbox.recv() => {
                let LayerMessage::Http(response) = message else {
                    tracing::warn!(consumer = name, "non-HTTP message sent to an HTTP reply channel; dropped");
                    continue;
                };
                // Answered: the response leaves now, and a consumer that goes on working finishes on its
                // own task (its later sends to this reply channel fail with `Disconnected`).
                tokio::spawn(async move {
                    if let Err(failure) = run.await {
                        invoke::log_failure(name, events::HTTP_REQUEST, &failure);
                    }
                });
                return to_hyper(&response);
            }
            outcome = &mut run => {
                if let Err(failure) = &outcome {
                    invoke::log_failure(name, events::HTTP_REQUEST, failure);
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
                }
                while let Some(message) = inbox.try_recv() {
                    if let LayerMessage::Http(response) = message {
                        return to_hyper(&response);
                    }
                }
                break;
            }
            () = &mut deadline => {
                tracing::warn!(consumer = name, timeout = ?shared.config.http_timeout, "http.request consumer did not respond in time");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            }
        }
    }
    tracing::error!(
        consumer = name,
        "http.request consumer returned without responding; call message.reply_channel.respond(..)"
    );
    plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn to_hyper(response: &crate::HttpResponse) -> Response<Body> {
    let mut out = Response::new(Full::new(response.body.clone()));
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &response.headers {
        match (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                out.headers_mut().append(name, value);
            }
            _ => tracing::warn!(header = %name, "invalid response header dropped"),
        }
    }
    out
}

/// What the connect consumer decided.
enum Decision {
    Accept,
    Reject,
    Failed,
}

async fn websocket(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let key = match req.headers().get(header::SEC_WEBSOCKET_KEY) {
        Some(key)
            if req
                .headers()
                .get(header::SEC_WEBSOCKET_VERSION)
                .is_some_and(|v| v == "13") =>
        {
            derive_accept_key(key.as_bytes())
        }
        _ => {
            return plain(
                StatusCode::BAD_REQUEST,
                "Bad WebSocket handshake: needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
            );
        }
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
            super::leave_groups(&shared.layer, inbox.name(), &bindings.groups).await;
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    }

    let mut early = Vec::new();
    let mut running = None;
    let decision = match bindings.connect.clone() {
        None => Decision::Accept,
        Some(consumer) => {
            let message = MessageBuilder::new(events::WEBSOCKET_CONNECT, scope.clone())
                .order(0)
                .build(reply.clone());
            let mut run = invoke::start(&consumer, message, &shared.layer);
            let deadline = tokio::time::sleep(shared.config.connect_timeout);
            tokio::pin!(deadline);
            let mut finished = None;
            let decision = loop {
                if let Some(message) = inbox.try_recv() {
                    match message {
                        LayerMessage::Accept => break Decision::Accept,
                        LayerMessage::Reject | LayerMessage::Close(_) => break Decision::Reject,
                        // Channels 1.x: sending data before deciding accepts the connection.
                        data @ (LayerMessage::Text(_)
                        | LayerMessage::Binary(_)
                        | LayerMessage::Json(_)) => {
                            early.push(data);
                            break Decision::Accept;
                        }
                        LayerMessage::Http(_) => continue,
                    }
                }
                if let Some(outcome) = finished.take() {
                    match outcome {
                        Ok(()) => {
                            tracing::warn!(consumer = consumer.name(), path = %scope.path, "connect consumer returned without accepting or rejecting; rejecting (call message.reply_channel.accept())");
                            break Decision::Reject;
                        }
                        Err(failure) => {
                            invoke::log_failure(
                                consumer.name(),
                                events::WEBSOCKET_CONNECT,
                                &failure,
                            );
                            break Decision::Failed;
                        }
                    }
                }
                tokio::select! {
                    biased;
                    message = inbox.recv() => {
                        // Put it back in order by handling it at the top of the loop.
                        match message {
                            LayerMessage::Accept => break Decision::Accept,
                            LayerMessage::Reject | LayerMessage::Close(_) => break Decision::Reject,
                            LayerMessage::Http(_) => {}
                            data => { early.push(data); break Decision::Accept; }
                        }
                    }
                    outcome = &mut run => { finished = Some(outcome); }
                    () = &mut deadline => {
                        tracing::warn!(consumer = consumer.name(), path = %scope.path, "connect consumer did not accept or reject in time; rejecting");
                        break Decision::Reject;
                    }
                }
            };
            if matches!(decision, Decision::Accept) && finished.is_none() {
                running = Some((consumer.name(), events::WEBSOCKET_CONNECT, run));
            } else if let Some(Err(failure)) = finished
                && matches!(decision, Decision::Accept)
            {
                // It accepted, then failed: the client sees the upgrade, then close 1011.
                running = Some((
                    consumer.name(),
                    events::WEBSOCKET_CONNECT,
                    invoke::RunFuture::ended(Err(failure)),
                ));
            }
            decision
        }
    };
    match decision {
        Decision::Accept => {}
        Decision::Reject => {
            super::leave_groups(&shared.layer, inbox.name(), &bindings.groups).await;
            return plain(StatusCode::FORBIDDEN, "Forbidden");
        }
        Decision::Failed => {
            super::leave_groups(&shared.layer, inbox.name(), &bindings.groups).await;
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
        socket = std::mem::size_of::<super::connection::Socket>(),
        running = std::mem::size_of::<Option<super::connection::Running>>(),
        "connection task state"
    );
    tokio::spawn(run);

    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(&key) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}
