//! The hyper service: plain HTTP requests go to `http.request` routes ([`http`]); WebSocket upgrade
//! requests are matched against the `websocket.*` routes and decided by the connect consumer before any
//! upgrade ([`handshake`]). This file holds what both share: the dispatch, the request's scope, plain-text
//! answers and the reply channel.

mod handshake;
mod http;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::Shared;
use crate::ReplyChannel;
use crate::message::Scope;

pub(crate) type Body = Full<Bytes>;

/// Answers one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    if is_upgrade(&req) {
        let mut response = handshake::websocket(shared, client, req).await;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            // The client asked to upgrade and won't get it: end the connection rather than leave it in limbo.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    } else {
        Ok(http::http(shared, client, req).await)
    }
}

/// A short plain-text answer (errors, refusals).
fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The ASGI connection scope of a request.
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

/// Whether the request asks to upgrade to a WebSocket (`Connection: upgrade`, `Upgrade: websocket`).
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
            let reply = ReplyChannel::for_inbox(&inbox, shared.layer.clone());
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
