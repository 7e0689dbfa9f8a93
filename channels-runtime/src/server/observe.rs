//! What the server tells its operator: a `tracing` span per request and per WebSocket connection, the
//! access log, and the request-level metrics (the names are in [`crate::metrics`]).
//!
//! **Spans.** Each plain HTTP request runs in an `info` span `http{method, path, peer}`. Each WebSocket
//! runs in a span `websocket{path, peer, channel}` (`channel`: the connection's reply channel, recorded
//! once it exists) at level **`debug`**, target [`CONNECTION`] (`channels::connection`). A span lives as
//! long as its connection, and with `tracing_subscriber`'s `fmt` it costs about 500 bytes per open
//! connection (its registry slot, its extensions, its formatted fields), an eighth of what an idle
//! connection costs otherwise. So an `info` deployment does not pay for it: the connection's access log
//! lines (accepted, closed) carry `path`, `peer` and `channel` themselves, and a consumer's failure names
//! the consumer and the event; what a consumer logs itself carries only its own fields. Turn the span on with
//! `RUST_LOG=info,channels::connection=debug`: then the connection's task, its consumers (async and
//! sync) and the server's own events about it all run inside it, so every line logged for one connection
//! carries its path, peer and reply channel. With the span off it costs nothing: no span is created and
//! the task is not instrumented.
//!
//! **Access log.** One `info` event with target [`ACCESS`] (`channels::access`) per HTTP request
//! (`peer`, `method`, `path`, `status`, `bytes` when the body's length is known, `duration_ms` until the
//! response head), per WebSocket handshake (the same, `channel` once accepted, and `why` for a refusal),
//! and per WebSocket close (`path`, `peer`, `channel`, `code`, `reason`, `closed_by`: `client` or
//! `server`), like Daphne's access log (`HTTP`, `WSCONNECT`/`WSREJECT`, `WSDISCONNECT`). The path is
//! logged without its query string (which often carries tokens). Off with
//! `RUST_LOG=info,channels::access=off`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use hyper::header;
use hyper::{Request, Response, StatusCode};
use tracing::{Instrument, Span, field};

use crate::message::Scope;

/// The target of access log lines: filter it with `RUST_LOG` (`channels::access=off` turns it off).
pub(crate) const ACCESS: &str = "channels::access";

/// The target of the per-connection `websocket` span (level `debug`): `channels::connection=debug` in
/// `RUST_LOG` turns it on (see the module docs for what it costs).
pub(crate) const CONNECTION: &str = "channels::connection";

thread_local! {
    /// The reply channel of the handshake this thread has just accepted, for [`request`]'s access log
    /// line: [`accepted`] leaves it right before the 101 is returned, and [`request`] takes it as soon
    /// as that 101 comes back to it, in the same poll, so on the same thread, with nothing in between.
    /// Not in the response's extensions: their map would be allocated (and freed) for this one entry on
    /// every handshake.
    static ACCEPTED: std::cell::Cell<Option<Arc<str>>> = const { std::cell::Cell::new(None) };
}

/// Hands the reply `channel` of the handshake being accepted to its access log line (see [`ACCEPTED`]):
/// called right before returning its 101.
pub(crate) fn accepted(channel: Arc<str>) {
    ACCEPTED.set(Some(channel));
}

/// The channel [`accepted`] left, taken (so that none outlives its request).
fn take_accepted() -> Option<Arc<str>> {
    ACCEPTED.take()
}

/// A peer address, or `-` for a connection without one (the in-process transport), as access logs write
/// a missing field.
#[derive(Clone, Copy)]
pub(crate) struct Peer(pub(crate) Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A hyper service wrapped in [`request`]: each call runs in its span and is access-logged and counted.
#[derive(Debug, Clone)]
pub(crate) struct Observed<S> {
    peer: Option<SocketAddr>,
    inner: S,
}

impl<S> Observed<S> {
    /// `inner`, observed, for the connection from `peer`.
    pub(crate) fn new(peer: Option<SocketAddr>, inner: S) -> Self {
        Observed { peer, inner }
    }
}

impl<S, ReqB, ResB> hyper::service::Service<Request<ReqB>> for Observed<S>
where
    S: hyper::service::Service<Request<ReqB>, Response = Response<ResB>, Error = Infallible>,
    S::Future: Send + 'static,
    ResB: hyper::body::Body,
{
    type Response = Response<ResB>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResB>, Infallible>> + Send>>;

    fn call(&self, req: Request<ReqB>) -> Self::Future {
        let inner = &self.inner;
        Box::pin(request(self.peer, req, |req| inner.call(req)))
    }
}

/// Answers `req` with `handle`, inside the request's span; then writes its access log line and counts it.
pub(crate) fn request<ReqB, ResB, F>(
    peer: Option<SocketAddr>,
    req: Request<ReqB>,
    handle: impl FnOnce(Request<ReqB>) -> F,
) -> impl Future<Output = Result<Response<ResB>, Infallible>> + Send + 'static
where
    F: Future<Output = Result<Response<ResB>, Infallible>> + Send + 'static,
    ResB: hyper::body::Body,
{
    let started = Instant::now();
    let upgrade = wants_websocket(&req);
    let method = req.method().clone();
    let uri = req.uri().clone();
    let peer = Peer(peer);
    let span = if upgrade {
        tracing::debug_span!(target: CONNECTION, "websocket", path = uri.path(), %peer, channel = field::Empty)
    } else {
        tracing::info_span!("http", %method, path = uri.path(), %peer)
    };
    let answer = handle(req).instrument(span.clone());
    async move {
        let Ok(response) = answer.await;
        // Taken whatever the answer, so that a channel left by a handshake run outside this wrapper
        // can't be logged for another request.
        let channel = take_accepted();
        let _entered = span.enter();
        let status = response.status();
        let duration_ms = started.elapsed().as_secs_f64() * 1e3;
        if upgrade {
            crate::metrics::handshake(status.as_u16());
            if status == StatusCode::SWITCHING_PROTOCOLS {
                tracing::info!(
                    target: ACCESS,
                    %peer, %method, path = uri.path(), status = status.as_u16(), duration_ms,
                    channel = channel.as_deref(),
                    "WebSocket {} {} accepted", uri.path(), status.as_u16()
                );
            } else {
                // What the status means; the refusal's own warning (which origin, which consumer),
                // if it logged one, is in this span just before.
                let why = why_of(status);
                tracing::info!(
                    target: ACCESS,
                    %peer, %method, path = uri.path(), status = status.as_u16(), why, duration_ms,
                    "WebSocket {} {} rejected", uri.path(), status.as_u16()
                );
            }
        } else {
            crate::metrics::http_request(status.as_u16());
            let bytes = response.body().size_hint().exact();
            tracing::info!(
                target: ACCESS,
                %peer, %method, path = uri.path(), status = status.as_u16(), bytes, duration_ms,
                "HTTP {method} {} {}", uri.path(), status.as_u16()
            );
        }
        Ok(response)
    }
}

/// Whether the request asks for a WebSocket (its span and log line say so).
fn wants_websocket<B>(req: &Request<B>) -> bool {
    req.headers()
        .get_all(header::UPGRADE)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// What a refused handshake's status means, for the access log's `why`.
pub(crate) fn why_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad handshake",
        403 => "forbidden: origin refused, connect consumer rejected or invalid group name",
        404 => "no route for this path",
        426 => "unsupported WebSocket version",
        431 => "request head too large",
        500 => "connect consumer failed",
        503 => "unavailable: server full, or the channel layer failed",
        _ => "refused",
    }
}

/// Records the connection's reply channel on its span (called once the channel exists).
pub(crate) fn record_channel(channel: &str) {
    Span::current().record("channel", channel);
}

/// Who ended a WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClosedBy {
    /// The client sent a close frame, or went away (code 1006).
    Client,
    /// The server closed it: a consumer asked to, a consumer failed, a limit was broken, shutdown.
    Server,
}

impl ClosedBy {
    fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Client => "client",
            ClosedBy::Server => "server",
        }
    }
}

/// A WebSocket connection is closing with `code` and `reason` (the access log's close line), naming the
/// connection by its path, peer (from `scope`) and reply `channel`. The connection passes them: no
/// task-local, whose slot every open connection's future would carry.
pub(crate) fn closed(scope: &Scope, channel: &str, code: u16, reason: &str, by: ClosedBy) {
    tracing::info!(
        target: ACCESS,
        path = &*scope.path,
        peer = field::display(Peer(scope.client)),
        channel,
        code,
        reason,
        closed_by = by.as_str(),
        "WebSocket closed {code} by {}",
        by.as_str()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_is_a_dash() {
        assert_eq!(Peer(None).to_string(), "-");
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(Peer(Some(addr)).to_string(), "127.0.0.1:9");
    }

    #[test]
    fn an_accepted_channel_is_taken_once() {
        assert_eq!(take_accepted(), None);
        accepted(Arc::from("specific.abc!def"));
        assert_eq!(take_accepted().as_deref(), Some("specific.abc!def"));
        assert_eq!(take_accepted(), None);
    }

    #[test]
    fn every_refusal_status_has_a_reason() {
        for status in [400, 403, 404, 426, 431, 500, 503] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            assert_ne!(why_of(status), "refused", "{status}");
        }
    }
}
