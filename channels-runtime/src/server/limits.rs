//! Limits applied before a WebSocket opens, so that what a client sends first can't hold the server's
//! resources: how long it may take to send its request head ([`http1_builder`]: hyper's header timeout
//! and head size) and its body ([`Paced`]), and how many WebSockets may be open at once ([`admit`]).
//! What each bad input gets is listed in SECURITY.md.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioTimer;
use tokio::time::{Instant, Sleep};

use super::{ServerConfig, Shared, TrackerGuard};

/// A boxed error, as hyper's bodies use.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// hyper refuses a read buffer smaller than this (`max_buf_size` panics below it).
const HYPER_MIN_BUF: usize = 8192;

/// hyper's HTTP/1 connection builder with this server's limits: a timer (without one hyper has no
/// header timeout at all), the head read within
/// [`handshake_timeout`](ServerConfig#structfield.handshake_timeout) (hyper then drops the connection),
/// and heads over [`max_header_bytes`](ServerConfig#structfield.max_header_bytes) answered with 431.
/// The read buffer is capped at the head budget too, so a head too large is refused after that many
/// bytes, not after hyper's default 400 KiB.
pub(crate) fn http1_builder(config: &ServerConfig) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.handshake_timeout)
        .max_header_size(config.max_header_bytes)
        .max_buf_size(config.max_header_bytes.max(HYPER_MIN_BUF));
    builder
}

/// Whether `req` asks for a WebSocket (an `Upgrade` header naming `websocket`): the requests that
/// [`max_connections`](ServerConfig#structfield.max_connections) counts.
fn wants_websocket<B>(req: &Request<B>) -> bool {
    req.headers().get_all(header::UPGRADE).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
        })
    })
}

/// A handshake refused for [`max_connections`](ServerConfig#structfield.max_connections).
#[derive(Debug)]
pub(crate) struct TooManyConnections;

impl TooManyConnections {
    /// The answer: 503, and the connection closed.
    pub(crate) fn response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from_static(
            b"Service Unavailable: too many connections\n",
        )));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// Decides whether a request may go on: plain HTTP always does (`Ok(None)`); a WebSocket handshake
/// does while the open connections plus the handshakes in progress stay within
/// [`max_connections`](ServerConfig#structfield.max_connections), holding its place until the handshake
/// ends (`Ok(Some(slot))`; from then on the connection counts itself), and is answered 503 past it.
///
/// Counting the handshakes in progress as well as the open connections (each is counted twice while
/// its handshake completes) keeps the number of open connections at or under the cap however many
/// handshakes arrive at once; at worst a handshake racing the last free place is refused.
pub(crate) fn admit<B>(
    shared: &Shared,
    req: &Request<B>,
) -> Result<Option<TrackerGuard>, TooManyConnections> {
    let Some(max) = shared.config.max_connections else {
        return Ok(None);
    };
    if !wants_websocket(req) {
        return Ok(None);
    }
    let slot = shared.handshakes.enter();
    let taken = shared.handshakes.count() + shared.connections.count();
    if taken <= max {
        return Ok(Some(slot));
    }
    drop(slot);
    tracing::debug!(
        max_connections = max,
        open = shared.connections.count(),
        "handshake refused: max_connections reached (503)"
    );
    Err(TooManyConnections)
}

/// A request body that arrived slower than the server allows (see [`Paced`]): the client gets 408.
#[derive(Debug, thiserror::Error)]
#[error("request body arrived slower than {rate} bytes/s after a {grace:?} grace")]
pub(crate) struct BodyTooSlow {
    rate: u64,
    grace: Duration,
}

/// Whether a request body failed for being too slow ([`Paced`]): the answer is then 408.
pub(crate) fn is_too_slow(error: &(dyn std::error::Error + 'static)) -> bool {
    error.downcast_ref::<BodyTooSlow>().is_some()
}

/// A request body with a deadline that moves with what has arrived: a body of `n` bytes so far must
/// have come within `handshake_timeout + n / min_body_rate` of the start, so a client that keeps up
/// the floor rate never meets it and one that trickles (or stops) does, with [`BodyTooSlow`].
///
/// The timer is reset only when it fires (then to the deadline the bytes since have earned), not at
/// every chunk.
pub(crate) struct Paced<B> {
    inner: B,
    start: Instant,
    received: u64,
    grace: Duration,
    rate: u64,
    /// Made the first time the body has to wait (a request without a body never makes one).
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> Paced<B> {
    /// `body`, held to `config`'s `handshake_timeout` and `min_body_rate` from now.
    pub(crate) fn new(body: B, config: &ServerConfig) -> Self {
        let start = Instant::now();
        let grace = config.handshake_timeout;
        Paced {
            inner: body,
            start,
            received: 0,
            grace,
            rate: config.min_body_rate.max(1),
            timer: None,
        }
    }

    /// When the body, `received` bytes of it in, must have come further.
    fn deadline(start: Instant, grace: Duration, received: u64, rate: u64) -> Instant {
        let earned = Duration::from_millis(received.saturating_mul(1000) / rate);
        start + grace + earned
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if let Some(Ok(frame)) = &frame
                && let Some(data) = frame.data_ref()
            {
                this.received = this.received.saturating_add(data.len() as u64);
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let first = this.start + this.grace;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(first)));
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = Self::deadline(this.start, this.grace, this.received, this.rate);
            if Instant::now() >= deadline {
                tracing::debug!(
                    received = this.received,
                    rate = this.rate,
                    "request body too slow; answering 408"
                );
                return Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    rate: this.rate,
                    grace: this.grace,
                }))));
            }
            timer.as_mut().reset(deadline);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    fn config() -> ServerConfig {
        ServerConfig::default()
            .handshake_timeout(Duration::from_secs(10))
            .min_body_rate(100)
    }

    /// A body of `chunks` chunks of `size` bytes, one every `every`.
    fn trickle(
        chunks: usize,
        size: usize,
        every: Duration,
    ) -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Unpin {
        let frames = stream::unfold(0, move |sent| async move {
            if sent == chunks {
                return None;
            }
            tokio::time::sleep(every).await;
            let frame: Result<Frame<Bytes>, std::convert::Infallible> =
                Ok(Frame::data(Bytes::from(vec![b'x'; size])));
            Some((frame, sent + 1))
        });
        StreamBody::new(Box::pin(frames))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_the_floor_rate_is_read_whole() {
        // 100 bytes a second, after a 10 s grace: 30 chunks of 100 bytes, one a second.
        let body = Paced::new(trickle(30, 100, Duration::from_secs(1)), &config());
        let read = body.collect().await.expect("read whole");
        assert_eq!(read.to_bytes().len(), 3000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_below_the_floor_rate_fails_as_too_slow() {
        // 10 bytes every second against a floor of 100: behind for good once the grace is spent.
        let start = Instant::now();
        let body = Paced::new(trickle(1000, 10, Duration::from_secs(1)), &config());
        let error = body.collect().await.expect_err("too slow");
        assert!(is_too_slow(&*error), "{error}");
        // It came once the grace and what the bytes earned were spent: 10 s + n / 100 s, n = 10 t.
        let waited = start.elapsed().as_secs();
        assert!((10..=12).contains(&waited), "{waited} s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_fails_after_the_grace() {
        let start = Instant::now();
        let body = Paced::new(trickle(1, 100, Duration::from_secs(3600)), &config());
        let error = body.collect().await.expect_err("too slow");
        assert!(is_too_slow(&*error));
        assert_eq!(start.elapsed().as_secs(), 10);
    }
}
