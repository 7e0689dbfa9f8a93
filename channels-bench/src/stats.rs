//! Latency samples and their percentiles.

use serde_json::{Value, json};

/// Latency samples in nanoseconds; every scenario bounds how many it takes.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    /// An empty set with room for `n` samples.
    pub fn with_capacity(n: usize) -> Self {
        Latencies {
            samples: Vec::with_capacity(n),
            sorted: true,
        }
    }

    /// Adds one sample.
    pub fn record(&mut self, nanos: u64) {
        self.samples.push(nanos);
        self.sorted = false;
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
        self.sorted = false;
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `p`-th quantile (0.0..=1.0) in microseconds, nearest rank; 0 when empty.
    pub fn quantile_us(&mut self, p: f64) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
        let rank = ((p * self.samples.len() as f64).ceil() as usize).clamp(1, self.samples.len());
        self.samples[rank - 1] as f64 / 1_000.0
    }

    /// p50, p99 and max as a JSON object (microseconds).
    pub fn summary(&mut self) -> Value {
        json!({
            "p50_us": round1(self.quantile_us(0.50)),
            "p99_us": round1(self.quantile_us(0.99)),
            "max_us": round1(self.quantile_us(1.0)),
            "samples": self.len(),
        })
    }

    /// `p50 X µs, p99 Y µs, max Z µs` for the human lines.
    pub fn line(&mut self) -> String {
        format!(
            "p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            self.quantile_us(0.50),
            self.quantile_us(0.99),
            self.quantile_us(1.0)
        )
    }
}

/// Rounds to one decimal, for readable JSON.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to three decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let mut l = Latencies::default();
        for n in 1..=100 {
            l.record(n * 1_000);
        }
        assert_eq!(l.quantile_us(0.5), 50.0);
        assert_eq!(l.quantile_us(0.99), 99.0);
        assert_eq!(l.quantile_us(1.0), 100.0);
    }
}
