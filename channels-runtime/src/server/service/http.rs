//! Plain HTTP requests: the `http.request` route's consumer answers through its reply channel, at once
//! (one response) or over time (a streaming response: server-sent events), possibly after it has
//! returned (a held request: long-poll).
//!
//! Here: the request's entry (route, body, reply channel) and the translation of the consumer's response
//! to hyper's. `exchange`: the task that waits for the answer and streams it. `body`: the streaming body.

mod body;
mod exchange;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::{BoxError, RequestBody, ResponseBody, open_reply_channel, plain, scope_of, whole};
use crate::message::{MessageBuilder, events};
use crate::server::Shared;

/// Answers a plain HTTP request: 404 without an `http.request` route, 413 for a body over
/// `max_message_size`, the consumer's response as soon as it is sent (or its head, when it streams), 500
/// when the consumer fails or returns without responding (or holding the request), 503 when no response
/// has started after `http_timeout`.
pub(super) async fn http(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    secure: bool,
    req: Request<RequestBody>,
) -> Response<ResponseBody> {
    let mut scope = scope_of(&req, client, secure, false);
    if let Err((status, text)) = crate::auth::http(&shared.routing, &mut scope).await {
        return plain(status, text).map(whole);
    }
    let scope = Arc::new(scope);
    let Some(consumer) = shared.routing.resolve(events::HTTP_REQUEST, &scope.path) else {
        return plain(StatusCode::NOT_FOUND, "Not Found").map(whole);
    };
    let body = match read_body(req.into_body(), shared.config.max_message_size).await {
        Ok(body) => body,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large").map(whole);
        }
        Err(status) => return plain(status, "Bad request body").map(whole),
    };
    let (inbox, reply) = match open_reply_channel(&shared, "http.response.").await {
        Ok(opened) => opened,
        Err(response) => return response.map(whole),
    };
    // Bounded by bytes, as a WebSocket's: a streaming response's chunks wait here for a slow client.
    inbox.queue().set_budget(shared.budget.clone());
    let message = MessageBuilder::new(events::HTTP_REQUEST, scope.clone())
        .bytes(body)
        .build(reply.clone());
    // The exchange runs on a task of its own, so that it outlives this future: hyper drops this future
    // when the client leaves (the exchange sees `answered` closed), and a streaming response goes on
    // after its head has been returned.
    let (answer, answered) = oneshot::channel();
    let exchange = exchange::Exchange::new(shared, consumer, scope, inbox, reply, answer);
    tokio::spawn(tracing::Instrument::in_current_span(
        exchange.serve(message),
    ));
    answered.await.unwrap_or_else(|_| {
        tracing::error!("http.request exchange ended without an answer");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").map(whole)
    })
}

/// The request body, up to `limit` bytes: 413 past it, 400 when the body fails (the client went away, or
/// broke the framing). (A loop rather than `Limited::collect`, whose boxed error type trips rustc's
/// `Send` check of this future: "implementation of `From` is not general enough".)
async fn read_body(mut body: RequestBody, limit: usize) -> Result<Bytes, StatusCode> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            // Slower than `min_body_rate` (see `server::limits`).
            Err(error) if crate::server::limits::is_too_slow(&*error) => {
                return Err(StatusCode::REQUEST_TIMEOUT);
            }
            Err(_) => return Err(StatusCode::BAD_REQUEST),
        };
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > limit {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// The consumer's response as hyper's; invalid header names or values are dropped (and logged).
fn to_hyper(response: &crate::HttpResponse) -> Response<ResponseBody> {
    with_head(response, whole(Full::new(response.body.clone())))
}

/// A response with `head`'s status and headers and `body`.
fn with_head(head: &crate::HttpResponse, body: ResponseBody) -> Response<ResponseBody> {
    let mut out = Response::new(body);
    *out.status_mut() =
        StatusCode::from_u16(head.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &head.headers {
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
