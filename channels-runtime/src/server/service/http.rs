//! Plain HTTP requests: the `http.request` route's consumer answers through its reply channel.

use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::{Body, open_reply_channel, plain, scope_of};
use crate::layer::LayerMessage;
use crate::message::{MessageBuilder, events};
use crate::server::{Shared, invoke};

/// Answers a plain HTTP request: 404 without an `http.request` route, 413 for a body over
/// `max_message_size`, the consumer's response as soon as it is sent, 500 when the consumer fails or
/// returns without responding, 503 after `http_timeout`.
pub(super) async fn http(
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

/// The consumer's response as hyper's; invalid header names or values are dropped (and logged).
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
