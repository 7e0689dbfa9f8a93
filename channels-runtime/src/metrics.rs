//! The server's metrics: their names, what each one counts, and where it is recorded.
//!
//! Metrics go through the [`metrics`](https://docs.rs/metrics) crate's facade: the runtime records, the
//! application chooses a recorder (an exporter). With no recorder installed every call is a no-op (the
//! facade checks for a recorder and returns a no-op handle), so a server that doesn't export metrics
//! pays next to nothing. To export them, install a recorder before starting the server, e.g.
//! [`metrics-exporter-prometheus`](https://docs.rs/metrics-exporter-prometheus):
//!
//! ```ignore
//! let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
//! // serve `handle.render()` at /metrics on a port of your choice
//! ```
//!
//! The examples do this behind `--metrics-bind HOST:PORT` (see the README's "Observability").
//!
//! Every metric is process-wide: two servers in one process add to the same series.
//!
//! The counts made per message or per byte ([`MESSAGES_RECEIVED`], [`MESSAGES_SENT`], [`LAYER_DROPPED`],
//! [`SLOW_CLIENT_DROPPED`], [`QUEUED_BYTES`]) cost one uncontended atomic add where they happen, and reach
//! the recorder when a running server's (or worker's) clock publishes them, four times a second; the
//! others are recorded as they happen.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | [`channels_connections_open`](CONNECTIONS_OPEN) | gauge | | WebSocket connections open |
//! | [`channels_connections_accepted_total`](CONNECTIONS_ACCEPTED) | counter | | handshakes answered 101 |
//! | [`channels_connections_rejected_total`](CONNECTIONS_REJECTED) | counter | `status` | handshakes refused |
//! | [`channels_http_requests_total`](HTTP_REQUESTS) | counter | `status` | plain HTTP requests answered |
//! | [`channels_messages_received_total`](MESSAGES_RECEIVED) | counter | | data frames from clients |
//! | [`channels_messages_sent_total`](MESSAGES_SENT) | counter | | data frames queued to clients |
//! | [`channels_layer_dropped_total`](LAYER_DROPPED) | counter | `layer` | group messages a member missed |
//! | [`channels_slow_client_dropped_total`](SLOW_CLIENT_DROPPED) | counter | | messages dropped by the budget |
//! | [`channels_slow_client_closes_total`](SLOW_CLIENT_CLOSES) | counter | `reason` | slow clients closed |
//! | [`channels_queued_bytes`](QUEUED_BYTES) | gauge | | bytes held for clients, not yet written |
//! | [`channels_layer_errors_total`](LAYER_ERRORS) | counter | `op` | failed layer operations |
//! | [`channels_consumer_failures_total`](CONSUMER_FAILURES) | counter | `kind` | consumer errors and panics |

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Gauge: WebSocket connections open, from the moment a handshake matches a route (its connect
/// consumer running) until its disconnect consumer has finished: what
/// [`ServerHandle::connections`](crate::ServerHandle::connections) counts, for every server of the
/// process.
pub const CONNECTIONS_OPEN: &str = "channels_connections_open";

/// Counter: WebSocket handshakes answered `101 Switching Protocols` (the connection was accepted).
pub const CONNECTIONS_ACCEPTED: &str = "channels_connections_accepted_total";

/// Counter, label `status` (`400`, `403`, `404`, `500`, `503`, ...): WebSocket handshakes answered with
/// anything but 101: a bad handshake, no route, a refusal by the connect consumer (or its failure), an
/// unavailable layer or a full server.
pub const CONNECTIONS_REJECTED: &str = "channels_connections_rejected_total";

/// Counter, label `status`: plain HTTP requests (not upgrades) answered, by status.
pub const HTTP_REQUESTS: &str = "channels_http_requests_total";

/// Counter: data frames (text or binary) received from WebSocket clients: the messages in.
pub const MESSAGES_RECEIVED: &str = "channels_messages_received_total";

/// Counter: data frames (text or binary) queued to WebSocket clients: the messages out, whether a
/// consumer sent them to its own reply channel or a group sent them to every member.
pub const MESSAGES_SENT: &str = "channels_messages_sent_total";

/// Counter, label `layer` (`in_memory`, `redis`): group messages a member did not get because its
/// channel was full (Channels' at-most-once rule for `group_send`); what
/// [`ChannelLayer::dropped`](crate::layer::ChannelLayer::dropped) counts. Includes the messages the
/// byte budget dropped for a slow member under [`SlowClientPolicy::Drop`](crate::server::SlowClientPolicy).
pub const LAYER_DROPPED: &str = "channels_layer_dropped_total";

/// Counter: messages dropped for a WebSocket client past its
/// [`outbound_budget`](crate::ServerConfig::outbound_budget) under
/// [`SlowClientPolicy::Drop`](crate::server::SlowClientPolicy::Drop) (what
/// [`SlowClientStats::dropped`](crate::server::SlowClientStats::dropped) counts per server).
pub const SLOW_CLIENT_DROPPED: &str = "channels_slow_client_dropped_total";

/// Counter, label `reason` (`over_budget`, `write_timeout`): WebSocket clients closed with 1013 because
/// they did not read: past their outbound budget, or a write waited past the write timeout.
pub const SLOW_CLIENT_CLOSES: &str = "channels_slow_client_closes_total";

/// Gauge: bytes held for WebSocket clients across every connection of the process (queued on their
/// reply channels, or taken by the connection and not yet written to the socket), as counted against
/// their outbound budgets. Published four times a second (see the module's docs).
pub const QUEUED_BYTES: &str = "channels_queued_bytes";

/// Counter, label `op` (`new_channel`, `group_add`, `group_discard`, `redis`): channel layer operations
/// the server made that failed (a connection refused with 503, a group not left), and every failed
/// operation of a Redis layer (`redis`: unreachable or too slow, as its `RedisStats::failed_operations`
/// counts them).
pub const LAYER_ERRORS: &str = "channels_layer_errors_total";

/// Counter, label `kind` (`error`, `panic`): consumer runs that returned an error or panicked (each is
/// also logged at error level, inside its connection's span).
pub const CONSUMER_FAILURES: &str = "channels_consumer_failures_total";

// The counts made on the delivery path (per message, per byte) don't go through the facade on each
// event: even with no recorder installed, each `counter!` call builds and hashes its key (about 150
// instructions), and with one it looks the key up. They are added to striped atomic counters instead (one
// uncontended atomic add on the calling thread's stripe), and published to the facade by the server's
// clock four times a second (`publish`): counters with `Counter::absolute`, the queued bytes as a gauge.
// Rare events (handshakes, requests, closes, errors) call the facade directly.

/// Per-message counts, summed over the stripes by [`publish`].
static RECEIVED: Striped = Striped::new();
static SENT: Striped = Striped::new();
static DROPPED_IN_MEMORY: Striped = Striped::new();
static DROPPED_REDIS: Striped = Striped::new();
static SLOW_DROPPED: Striped = Striped::new();
/// Bytes held for clients, summed over every budgeted queue of the process: added on push, taken back
/// on release or drop (wrapping: a stripe may go "negative", the sum is right).
static QUEUED: Striped = Striped::new();

/// Stripes per counter: threads beyond this share stripes (still correct, a little contended).
const STRIPES: usize = 16;

/// A counter split over cache lines, one per thread (round-robin), so that threads counting at once
/// don't contend for one line.
struct Striped([Padded; STRIPES]);

#[repr(align(128))]
struct Padded(AtomicU64);

impl Striped {
    const fn new() -> Self {
        Striped([const { Padded(AtomicU64::new(0)) }; STRIPES])
    }

    #[inline]
    fn add(&self, n: u64) {
        self.0[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    fn sub(&self, n: u64) {
        self.0[stripe()].0.fetch_sub(n, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |sum, p| sum.wrapping_add(p.0.load(Ordering::Relaxed)))
    }
}

thread_local! {
    /// This thread's stripe, given on first use.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn stripe() -> usize {
    STRIPE.with(|stripe| match stripe.get() {
        usize::MAX => {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let given = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            stripe.set(given);
            given
        }
        given => given,
    })
}

pub(crate) fn connection_opened() {
    ::metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
}

pub(crate) fn connection_closed() {
    ::metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
}

/// A handshake was answered with `status`.
pub(crate) fn handshake(status: u16) {
    if status == 101 {
        ::metrics::counter!(CONNECTIONS_ACCEPTED).increment(1);
    } else {
        ::metrics::counter!(CONNECTIONS_REJECTED, "status" => status_label(status)).increment(1);
    }
}

/// A plain HTTP request was answered with `status`.
pub(crate) fn http_request(status: u16) {
    ::metrics::counter!(HTTP_REQUESTS, "status" => status_label(status)).increment(1);
}

/// The common statuses as static labels (no allocation); others formatted.
fn status_label(status: u16) -> ::metrics::SharedString {
    let known = match status {
        200 => "200",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        426 => "426",
        429 => "429",
        431 => "431",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return ::metrics::SharedString::from(other.to_string()),
    };
    ::metrics::SharedString::const_str(known)
}

/// A data frame came from a client.
#[inline]
pub(crate) fn message_received() {
    RECEIVED.add(1);
}

/// A data frame was queued to a client.
#[inline]
pub(crate) fn message_sent() {
    SENT.add(1);
}

/// `count` data frames written at once (a flush of one member's waiting frames).
pub(crate) fn messages_sent(count: usize) {
    SENT.add(u64::try_from(count).unwrap_or(u64::MAX));
}

/// Which layer dropped a group message for a full member.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Layer {
    InMemory,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Redis,
}

/// `n` group messages were dropped for full members of a layer.
#[inline]
pub(crate) fn layer_dropped(layer: Layer, n: u64) {
    match layer {
        Layer::InMemory => DROPPED_IN_MEMORY.add(n),
        Layer::Redis => DROPPED_REDIS.add(n),
    }
}

/// A message was dropped for a client past its budget.
#[inline]
pub(crate) fn slow_client_dropped() {
    SLOW_DROPPED.add(1);
}

/// A slow client was closed; `reason` is `over_budget` or `write_timeout`.
pub(crate) fn slow_client_closed(reason: &'static str) {
    ::metrics::counter!(SLOW_CLIENT_CLOSES, "reason" => reason).increment(1);
}

/// A layer operation (`op`) failed.
pub(crate) fn layer_error(op: &'static str) {
    ::metrics::counter!(LAYER_ERRORS, "op" => op).increment(1);
}

/// A consumer run failed; `kind` is `error` or `panic`.
pub(crate) fn consumer_failed(kind: &'static str) {
    ::metrics::counter!(CONSUMER_FAILURES, "kind" => kind).increment(1);
}

/// `bytes` more are held for a client (a budgeted queue took a message).
#[inline]
pub(crate) fn queued(bytes: usize) {
    QUEUED.add(bytes as u64);
}

/// `bytes` held for a client were written, dropped or freed.
#[inline]
pub(crate) fn unqueued(bytes: usize) {
    QUEUED.sub(bytes as u64);
}

/// Publishes the striped counts to the facade (called by the server's clock, four times a second).
pub(crate) fn publish() {
    ::metrics::counter!(MESSAGES_RECEIVED).absolute(RECEIVED.sum());
    ::metrics::counter!(MESSAGES_SENT).absolute(SENT.sum());
    ::metrics::counter!(LAYER_DROPPED, "layer" => "in_memory").absolute(DROPPED_IN_MEMORY.sum());
    #[cfg(feature = "redis")]
    ::metrics::counter!(LAYER_DROPPED, "layer" => "redis").absolute(DROPPED_REDIS.sum());
    ::metrics::counter!(SLOW_CLIENT_DROPPED).absolute(SLOW_DROPPED.sum());
    // A sum over stripes read one by one may catch a release before its push: never below zero.
    let held = (QUEUED.sum() as i64).max(0);
    // Exact below 2^53 bytes, which any real count is.
    #[allow(clippy::cast_precision_loss)]
    ::metrics::gauge!(QUEUED_BYTES).set(held as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_striped_count_sums_over_threads_and_wraps_back_to_its_start() {
        static COUNT: Striped = Striped::new();
        let threads: Vec<_> = (0..20)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        COUNT.add(3);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a counting thread");
        }
        assert_eq!(COUNT.sum(), 60_000);
        // Taken back on other threads than those that added: stripes wrap, the sum does not.
        std::thread::spawn(|| COUNT.sub(60_000))
            .join()
            .expect("a thread");
        assert_eq!(COUNT.sum(), 0);
    }

    #[test]
    fn known_statuses_are_static_labels_and_others_formatted() {
        assert_eq!(&*status_label(404), "404");
        assert_eq!(&*status_label(418), "418");
    }
}
