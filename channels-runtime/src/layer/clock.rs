//! A coarse clock for expiry checks on the delivery path.
//!
//! Every delivered message must not be older than the layer's expiry (60 s by default). Reading the clock
//! for that on each delivery is a measurable share of a broadcast's cost, yet a message delivered within
//! microseconds of being queued is obviously fresh. So queues compare a message's time with a coarse "now"
//! kept in an atomic: refreshed by every push (which reads the clock anyway) and by a ticker that servers
//! and workers run. Only a message that might be near its expiry by that measure costs a real clock read.
//! Without a running ticker (a layer used on its own) the coarse clock is not trusted and every check reads
//! the real clock.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How often the ticker refreshes the coarse clock.
const TICK: Duration = Duration::from_millis(250);

/// Safety margin: a message is taken as fresh without a real clock read only if it is this much younger
/// than its expiry by the coarse clock (which may lag by up to one tick).
const MARGIN_MS: u64 = 1_000;

static BASE: OnceLock<Instant> = OnceLock::new();
static NOW_MS: AtomicU64 = AtomicU64::new(0);
static TICKERS: AtomicUsize = AtomicUsize::new(0);

fn millis(at: Instant) -> u64 {
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(at.saturating_duration_since(base).as_millis()).unwrap_or(u64::MAX)
}

/// Records that it is at least `now`.
pub(crate) fn observe(now: Instant) {
    NOW_MS.fetch_max(millis(now), Ordering::Relaxed);
}

/// Whether a message queued at `at` is surely younger than `expiry`, judged without reading the clock.
/// `false` means "look at the real clock", not "expired".
pub(crate) fn surely_fresh(at: Instant, expiry: Duration) -> bool {
    if TICKERS.load(Ordering::Relaxed) == 0 {
        return false;
    }
    // A time from before the coarse clock's start can't be judged by it.
    match BASE.get() {
        Some(base) if at >= *base => {}
        _ => return false,
    }
    let age = NOW_MS.load(Ordering::Relaxed).saturating_sub(millis(at));
    age.saturating_add(MARGIN_MS) < u64::try_from(expiry.as_millis()).unwrap_or(u64::MAX)
}

/// Keeps the coarse clock fresh for as long as it runs (servers and workers run one).
pub(crate) async fn tick() {
    struct Running;
    impl Drop for Running {
        fn drop(&mut self) {
            TICKERS.fetch_sub(1, Ordering::Relaxed);
        }
    }
    observe(Instant::now());
    TICKERS.fetch_add(1, Ordering::Relaxed);
    let _running = Running;
    let mut timer = tokio::time::interval(TICK);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        observe(Instant::now());
        // The per-message counts and the queued bytes, to the metrics recorder (see `crate::metrics`).
        crate::metrics::publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_old_message_is_never_surely_fresh() {
        // Tickers are global (another test may run one): this holds with or without one.
        observe(Instant::now());
        if let Some(long_ago) = Instant::now().checked_sub(Duration::from_secs(120)) {
            assert!(!surely_fresh(long_ago, Duration::from_secs(60)));
        }
    }

    #[tokio::test]
    async fn with_a_ticker_a_new_message_is_fresh_without_the_clock() {
        let ticker = tokio::spawn(tick());
        tokio::task::yield_now().await;
        while TICKERS.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        let now = Instant::now();
        observe(now);
        assert!(surely_fresh(now, Duration::from_secs(60)));
        assert!(!surely_fresh(now, Duration::from_millis(500)));
        ticker.abort();
    }
}
