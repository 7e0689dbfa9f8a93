//! A task that ticks: what `ticker` (into group "ticks") and `sse` (its clock, into group "events") both
//! run beside their consumers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Calls `tick(n, at_ms)` every `interval` (n counts from 0; `at_ms` is the Unix time in milliseconds),
/// for ever. A late tick is delayed, not bunched; a tick that fails is logged (`tracing`, warn) and the
/// next one still comes: a layer that is down for a moment doesn't end the clock.
#[allow(dead_code)] // only the examples that tick use it
pub async fn every<F>(interval: Duration, mut tick: impl FnMut(u64, u64) -> F)
where
    F: Future<Output = channels::Result<()>>,
{
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0u64.. {
        timer.tick().await;
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if let Err(error) = tick(n, at_ms).await {
            tracing::warn!(%error, "tick not sent");
        }
    }
}
