//! The hyper service: plain HTTP requests go to `http.request` routes ([`http`]); WebSocket upgrade
//! requests are matched against the `websocket.*` routes and decided by the connect consumer before any
//! upgrade ([`handshake`]). This file holds what both share: the dispatch, the request's scope, plain-text
//! answers and the reply channel.

mod checks;
mod handshake;
mod http;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Either;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::Shared;
use super::listen::Transport;
use crate::ReplyChannel;
use crate::message::Scope;

pub(crate) type Body = Full<Bytes>;

/// What the service answers with: a whole body, or one that streams (an `http.request` consumer's
/// `http.response.start` and chunks); an error aborts the connection (a slow client's stream).
pub(crate) type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A whole body as a [`ResponseBody`].
fn whole(body: Body) -> ResponseBody {
    body.map_err(|never| match never {}).boxed_unsync()
}

/// A request body from any source (hyper's own connection, or axum's), boxed once at the entry.
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// The error of a [`RequestBody`].
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Answers one request, whatever its body type (an axum application's): see [`handle_over`].
#[cfg(feature = "axum")]
pub(crate) fn handle<B>(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    req: Request<B>,
) -> impl Future<Output = Result<Response<ResponseBody>, std::convert::Infallible>> + Send + 'static
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    handle_over(shared, client, Transport::Plain, req, |body, _| body)
}

/// Answers one request that came over `transport` from `client` (the peer): a WebSocket handshake, or
/// a plain HTTP request whose body `pace` wraps (the server's own connections hold it to
/// `min_body_rate`: `limits::Paced`). What tells them apart (and the client and scheme, once a trusted proxy's headers
/// are weighed: `server::proxy`) is read here, before any future is made: the handshake's future
/// holds neither the body (a handshake has none; it is dropped at once) nor the box a plain request's
/// body goes in, once, outside the async part (a generic bound inside it trips rustc's `Send` check).
pub(crate) fn handle_over<B, P>(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    transport: Transport,
    req: Request<B>,
    pace: impl FnOnce(B, &super::ServerConfig) -> P,
) -> impl Future<Output = Result<Response<ResponseBody>, std::convert::Infallible>> + Send + 'static
where
    P: hyper::body::Body<Data = Bytes> + Send + 'static,
    P::Error: Into<BoxError>,
{
    let forwarded = super::proxy::forwarded(client, req.headers(), &shared.config.trusted_proxies);
    let secure = forwarded.secure.unwrap_or(transport == Transport::Tls);
    if is_upgrade(&req) {
        Either::Left(upgrade(shared, forwarded.client, secure, req.map(drop)))
    } else {
        let req = req.map(|body| {
            pace(body, &shared.config)
                .map_err(|error| -> BoxError { error.into() })
                .boxed_unsync()
        });
        Either::Right(http::http(shared, forwarded.client, secure, req).map(Ok))
    }
}

/// Answers an upgrade request ([`handshake::websocket`]); one that won't be upgraded ends its
/// connection. A combinator rather than an `async fn`, whose state would hold the handshake's future
/// and so copy it (1.8 KB) at its first poll.
fn upgrade(
    shared: Arc<Shared>,
    client: Option<std::net::SocketAddr>,
    secure: bool,
    req: Request<()>,
) -> impl Future<Output = Result<Response<ResponseBody>, std::convert::Infallible>> + Send + 'static
{
    handshake::websocket(shared, client, secure, req).map(|mut response| {
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            // The client asked to upgrade and won't get it: end the connection rather than leave it
            // in limbo.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response.map(whole))
    })
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

/// The ASGI connection scope of a request from `client`.
/// `secure`: whether the client used TLS (to this server, or to a trusted proxy that says so: see
/// [`handle_over`]); `upgrade`: whether it asks for a WebSocket ([`is_upgrade`], which the caller has
/// checked already).
fn scope_of<B>(
    req: &Request<B>,
    client: Option<std::net::SocketAddr>,
    secure: bool,
    upgrade: bool,
) -> Scope {
    // ASGI's `path` is percent-decoded (Channels matches its routes against the decoded path);
    // `raw_path` keeps what the client sent. Most paths decode to themselves: then both share one
    // allocation, as every open connection keeps its scope.
    let raw_path: Arc<str> = Arc::from(req.uri().path());
    let path = match percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy() {
        std::borrow::Cow::Borrowed(_) => raw_path.clone(),
        std::borrow::Cow::Owned(decoded) => Arc::from(decoded),
    };
    let mut scope = Scope {
        path,
        raw_path,
        query_string: req.uri().query().map_or_else(empty, Arc::from),
        headers: checks::scope_headers(req.headers()),
        method: method_name(req.method()),
        client,
        scheme: scheme(upgrade, secure),
        subprotocols: checks::subprotocols(req.headers()),
        ..Scope::default()
    };
    scope.set_app_state(req.extensions().get::<crate::message::AppState>().cloned());
    scope
}

/// One empty string shared by every scope without a query string.
fn empty() -> Arc<str> {
    static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from("")).clone()
}

/// The method's name: a static string for the standard ones, so that a scope allocates nothing for it.
fn method_name(method: &hyper::Method) -> std::borrow::Cow<'static, str> {
    use hyper::Method;
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return std::borrow::Cow::Owned(method.as_str().to_owned()),
    };
    std::borrow::Cow::Borrowed(name)
}

/// ASGI's `scheme` of a request: `ws`/`wss` for an upgrade, `http`/`https` otherwise; the secure one
/// when the client used TLS.
fn scheme(upgrade: bool, secure: bool) -> &'static str {
    match (upgrade, secure) {
        (true, false) => "ws",
        (true, true) => "wss",
        (false, false) => "http",
        (false, true) => "https",
    }
}

/// Whether the request asks to upgrade to a WebSocket (`Connection: upgrade`, `Upgrade: websocket`).
fn is_upgrade<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|value| has_token(value, token))
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

/// Whether `value`, a comma-separated list, holds `token` (ASCII case-insensitive, blanks around it
/// ignored). A value that is not visible ASCII (what `HeaderValue::to_str` refuses) holds none. On the
/// bytes, not through `to_str` and `str::split`: it runs for every request.
fn has_token(value: &HeaderValue, token: &str) -> bool {
    let bytes = value.as_bytes();
    // The usual case, a value that is the token alone (`Upgrade`, `websocket`), at once: the tokens
    // asked for are lower-case letters, so a byte matches when it is the letter or its capital, which
    // setting bit 0x20 tells (cheaper than `eq_ignore_ascii_case`'s per-byte lower-casing).
    debug_assert!(token.bytes().all(|b| b.is_ascii_lowercase()));
    if bytes.len() == token.len()
        && bytes
            .iter()
            .zip(token.as_bytes())
            .all(|(&b, &t)| b | 0x20 == t)
    {
        return true;
    }
    bytes
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        && bytes
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
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
            crate::metrics::layer_error("new_channel");
            tracing::error!(%error, "could not create a reply channel");
            Err(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_in_lists_whatever_their_case_and_blanks() {
        let has = |value: &'static [u8], token| {
            has_token(
                &HeaderValue::from_bytes(value).unwrap_or_else(|_| HeaderValue::from_static("")),
                token,
            )
        };
        assert!(has(b"Upgrade", "upgrade"));
        assert!(has(b"WebSocket", "websocket"));
        assert!(has(b"WEBSOCKET", "websocket"));
        assert!(!has(b"websockets", "websocket"));
        assert!(!has(b"websocke", "websocket"));
        assert!(!has(b"websock@t", "websocket"));
        assert!(has(b"keep-alive, Upgrade", "upgrade"));
        assert!(has(b"keep-alive,\tUPGRADE ,x", "upgrade"));
        assert!(!has(b"keep-alive", "upgrade"));
        assert!(!has(b"upgrades", "upgrade"));
        assert!(!has(b"up grade", "upgrade"));
        assert!(!has(b"", "upgrade"));
        // Not visible ASCII: `to_str` refuses the value, and so does the check.
        assert!(!has(b"upgrade, caf\xc3\xa9", "upgrade"));
    }

    #[test]
    fn an_upgrade_needs_both_headers() {
        let request = |connection: &'static str, upgrade: &'static str| {
            Request::builder()
                .header(header::CONNECTION, connection)
                .header(header::UPGRADE, upgrade)
                .body(())
                .unwrap_or_default()
        };
        assert!(is_upgrade(&request("Upgrade", "websocket")));
        assert!(is_upgrade(&request("keep-alive, upgrade", "WebSocket")));
        assert!(!is_upgrade(&request("keep-alive", "websocket")));
        assert!(!is_upgrade(&request("upgrade", "h2c")));
    }
}
