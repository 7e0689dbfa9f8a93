//! [`Clock`]: what a connection does on time rather than on input. It pings a peer that has been quiet
//! for [`ping_interval`](crate::ServerConfig#structfield.ping_interval), gives up on one that then sends
//! nothing for [`ping_timeout`](crate::ServerConfig#structfield.ping_timeout), and ends the connection at
//! its [`max_lifetime`](crate::ServerConfig#structfield.max_lifetime).
//!
//! One timer does all three. It is not moved at every frame: a frame only notes the time (the answer to
//! a ping moves it once, to the next ping), and when the timer fires it works out what is due and, if
//! nothing is yet, sets itself for the next thing.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::ServerConfig;

/// What came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// The peer has been quiet for the ping interval: send it a ping.
    Ping,
    /// The peer sent nothing (no pong, no frame) for the ping timeout after a ping: it is gone.
    Unanswered,
    /// The connection has been open for its maximum lifetime.
    Lifetime,
}

/// A connection's keepalive and lifetime timer (see the module docs).
pub(super) struct Clock {
    timer: Pin<Box<Sleep>>,
    /// The waker the timer holds, while it has not fired (see [`poll_due`](Self::poll_due)).
    armed: Option<Waker>,
    /// The server's config, for the ping interval and timeout: one pointer where the two durations took
    /// four words (room for `armed`, in every connection's state).
    config: ClockConfig,
    /// When the peer last sent a frame (or the connection opened).
    last_seen: Instant,
    /// When the ping still unanswered was sent.
    ping_sent: Option<Instant>,
    /// When the connection must end, if it has a maximum lifetime (taken once it has come).
    ends_at: Option<Instant>,
}

impl Clock {
    /// The clock of a connection opening now, or `None` when `config` asks for neither pings nor a
    /// lifetime (then nothing is kept at all).
    pub(super) fn new(config: &ClockConfig) -> Option<Clock> {
        let config = &config.0;
        if config.ping_interval.is_none() && config.max_lifetime.is_none() {
            return None;
        }
        let now = Instant::now();
        let mut clock = Clock {
            timer: Box::pin(tokio::time::sleep_until(now)),
            armed: None,
            config: ClockConfig(config.clone()),
            last_seen: now,
            ping_sent: None,
            ends_at: config.max_lifetime.map(|lifetime| now + lifetime),
        };
        let next = clock.next();
        clock.reset(next);
        Some(clock)
    }

    /// The peer sent a frame: it is alive. The first frame after a ping moves the timer (from the
    /// ping's timeout to the next ping); others only note the time.
    pub(super) fn seen(&mut self) {
        self.last_seen = Instant::now();
        if self.ping_sent.take().is_some() {
            let next = self.next();
            self.reset(next);
        }
    }

    /// The ping interval and timeout, when pings are on.
    fn ping(&self) -> Option<(Duration, Duration)> {
        let config = self.config.config();
        config
            .ping_interval
            .map(|interval| (interval, config.ping_timeout))
    }

    /// The earliest thing that can come due.
    fn next(&self) -> Instant {
        let ping = self.ping().map(|(interval, timeout)| match self.ping_sent {
            Some(sent) => sent + timeout,
            None => self.last_seen + interval,
        });
        match (ping, self.ends_at) {
            (Some(ping), Some(end)) => ping.min(end),
            (Some(at), None) | (None, Some(at)) => at,
            // Nothing left to wait for (the lifetime came, and there are no pings): a year.
            (None, None) => Instant::now() + Duration::from_secs(365 * 24 * 3600),
        }
    }

    /// Ready with what has come due. `paused` says the connection itself has stopped reading (a
    /// consumer is behind): a peer is not taken for gone for the silence the server caused.
    ///
    /// The connection asks before every sleep (once per message on a busy connection), and the timer
    /// nearly never fires: while it holds this task's waker and has not fired, the answer is `Pending`
    /// without polling it again (a poll registers the same waker once more, and counts against tokio's
    /// budget: about 170 instructions per message).
    pub(super) fn poll_due(&mut self, cx: &mut Context<'_>, paused: bool) -> Poll<Due> {
        if let Some(waker) = &self.armed
            && waker.will_wake(cx.waker())
            && !self.timer.is_elapsed()
        {
            return Poll::Pending;
        }
        self.armed = None;
        loop {
            // Out of budget, the poll returns `Pending` without giving the timer the waker.
            let registers = tokio::task::coop::has_budget_remaining();
            if self.timer.as_mut().poll(cx).is_pending() {
                if registers {
                    self.armed = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            let now = Instant::now();
            if self.ends_at.is_some_and(|end| now >= end) {
                self.ends_at = None;
                return Poll::Ready(Due::Lifetime);
            }
            if let Some((interval, timeout)) = self.ping() {
                match self.ping_sent {
                    Some(sent) if now >= sent + timeout => {
                        if !paused {
                            return Poll::Ready(Due::Unanswered);
                        }
                        self.last_seen = now;
                        self.ping_sent = None;
                    }
                    None if now >= self.last_seen + interval => {
                        self.ping_sent = Some(now);
                        let next = self.next();
                        self.reset(next);
                        return Poll::Ready(Due::Ping);
                    }
                    _ => {}
                }
            }
            let next = self.next();
            self.reset(next);
        }
    }

    /// Sets the timer for `next`; it is polled (and given the waker) again before the task sleeps.
    fn reset(&mut self, next: Instant) {
        self.armed = None;
        self.timer.as_mut().reset(next);
    }
}

/// The server's config as a connection reads it: its [`Clock`]'s settings, its socket's. One shared
/// pointer per connection rather than copies of the durations and buffer sizes it needs, as every open
/// connection keeps it.
#[derive(Debug, Clone)]
pub(crate) struct ClockConfig(Arc<ServerConfig>);

impl ClockConfig {
    /// How long a pinged peer has to answer.
    pub(super) fn ping_timeout(&self) -> Duration {
        self.0.ping_timeout
    }

    /// tungstenite's settings for the connection's socket.
    pub(super) fn websocket(&self) -> WebSocketConfig {
        self.0.websocket_config()
    }

    /// The server's config, for the connection's other limits (timeouts, backlog): one pointer for all.
    pub(super) fn config(&self) -> &ServerConfig {
        &self.0
    }

    pub(crate) fn of(config: &Arc<ServerConfig>) -> Self {
        ClockConfig(config.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ping: Option<u64>, timeout: u64, lifetime: Option<u64>) -> ClockConfig {
        ClockConfig::of(&Arc::new(
            ServerConfig::default()
                .ping_interval(ping.map(Duration::from_secs))
                .ping_timeout(Duration::from_secs(timeout))
                .max_lifetime(lifetime.map(Duration::from_secs)),
        ))
    }

    /// What comes due next, and how long (on the paused clock) after `start` it came.
    async fn next_due(clock: &mut Clock, paused: bool, start: Instant) -> (Due, u64) {
        let due = std::future::poll_fn(|cx| clock.poll_due(cx, paused)).await;
        (due, start.elapsed().as_secs())
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_peer_is_pinged_then_given_up_on() {
        let start = Instant::now();
        let mut clock = Clock::new(&config(Some(20), 30, None)).expect("a clock");
        assert_eq!(next_due(&mut clock, false, start).await, (Due::Ping, 20));
        assert_eq!(
            next_due(&mut clock, false, start).await,
            (Due::Unanswered, 50)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn any_frame_answers_and_the_next_ping_follows_it() {
        let start = Instant::now();
        let mut clock = Clock::new(&config(Some(20), 30, None)).expect("a clock");
        assert_eq!(next_due(&mut clock, false, start).await, (Due::Ping, 20));
        tokio::time::advance(Duration::from_secs(5)).await;
        clock.seen();
        assert_eq!(next_due(&mut clock, false, start).await, (Due::Ping, 45));
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_is_not_given_up_on_while_the_server_does_not_read() {
        let start = Instant::now();
        let mut clock = Clock::new(&config(Some(20), 30, None)).expect("a clock");
        assert_eq!(next_due(&mut clock, true, start).await, (Due::Ping, 20));
        // Paused at 50 s: taken as alive, pinged again 20 s later.
        assert_eq!(next_due(&mut clock, true, start).await, (Due::Ping, 70));
    }

    #[tokio::test(start_paused = true)]
    async fn the_lifetime_ends_the_connection_whatever_the_pings() {
        let start = Instant::now();
        let mut clock = Clock::new(&config(Some(20), 30, Some(30))).expect("a clock");
        assert_eq!(next_due(&mut clock, false, start).await, (Due::Ping, 20));
        clock.seen();
        assert_eq!(
            next_due(&mut clock, false, start).await,
            (Due::Lifetime, 30)
        );
    }

    /// A waker that counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn woken(count: &Count) -> usize {
        count.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_asked_again_wakes_whoever_asked_last() {
        let mut clock = Clock::new(&config(Some(20), 30, None)).expect("a clock");
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        let mut cx = Context::from_waker(&first_waker);
        assert!(clock.poll_due(&mut cx, false).is_pending());
        // Asked again by the same task: not polled again, still armed.
        assert!(clock.poll_due(&mut cx, false).is_pending());
        assert!(clock.armed.is_some());
        // Asked by another task: that one's waker is handed to the timer.
        let mut cx = Context::from_waker(&second_waker);
        assert!(clock.poll_due(&mut cx, false).is_pending());
        tokio::time::sleep(Duration::from_secs(21)).await;
        assert_eq!((woken(&first), woken(&second)), (0, 1));
        assert_eq!(clock.poll_due(&mut cx, false), Poll::Ready(Due::Ping));
        // Set for the ping's timeout: asked once more, it is armed again, and fires at its time.
        assert!(clock.poll_due(&mut cx, false).is_pending());
        assert!(clock.poll_due(&mut cx, false).is_pending());
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert_eq!(woken(&second), 2);
        assert_eq!(clock.poll_due(&mut cx, false), Poll::Ready(Due::Unanswered));
    }

    #[test]
    fn the_clock_stays_small() {
        // Every open connection keeps one: 88 bytes before it kept the waker it is armed with.
        assert!(std::mem::size_of::<Option<Clock>>() <= 88);
    }

    #[test]
    fn no_pings_and_no_lifetime_keep_no_clock() {
        assert!(Clock::new(&config(None, 30, None)).is_none());
    }
}
