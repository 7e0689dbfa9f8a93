//! [`Report`]: what every scenario returns.

/// The outcome of a scenario: human lines, one JSON summary and what went wrong.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Lines for people.
    pub lines: Vec<String>,
    /// The machine-readable summary (printed as one line).
    pub summary: serde_json::Value,
    /// Errors (connection failures, wrong or malformed replies, deadlines), at most 20 kept.
    pub errors: Vec<String>,
    /// How many errors there were in all.
    pub error_count: u64,
    /// Messages that never arrived.
    pub lost: u64,
    /// Messages that arrived more than once.
    pub duplicated: u64,
}

impl Report {
    /// No errors, nothing lost, nothing duplicated.
    pub fn is_clean(&self) -> bool {
        self.error_count == 0 && self.lost == 0 && self.duplicated == 0
    }

    /// Records an error (keeps the first 20 texts, counts them all).
    pub fn error(&mut self, error: String) {
        self.error_count += 1;
        if self.errors.len() < 20 {
            self.errors.push(error);
        }
    }

    /// The value of a step that must succeed for the scenario to go on; its error is recorded.
    pub fn ok<T>(&mut self, step: Result<T, String>) -> Option<T> {
        step.map_err(|error| self.error(error)).ok()
    }

    /// Parses the scenario's URL, recording the error when it is not a loopback WebSocket URL.
    pub fn target(&mut self, url: &str) -> Option<crate::client::Target> {
        self.ok(crate::client::Target::parse(url))
    }

    /// Adds the server's CPU time between two samples, per `count` items (messages or deliveries), to the
    /// lines and to `summary` (as `server_cpu_s`, `server_cpu_us_per_<unit>` and
    /// `server_sched_us_per_<unit>`). Does nothing without samples (no `--server-pid`).
    pub fn server_cpu(
        &mut self,
        summary: &mut serde_json::Value,
        mode: &str,
        unit: &str,
        count: u64,
        samples: (Option<crate::proc::Sample>, Option<crate::proc::Sample>),
    ) {
        let (Some(before), Some(after)) = samples else {
            return;
        };
        let cpu = after.cpu_since(&before);
        let sched = after.sched_since(&before);
        let per = cpu / count.max(1) as f64 * 1e6;
        let per_sched = sched / count.max(1) as f64 * 1e6;
        self.lines.push(format!(
            "{mode}: server CPU {cpu:.2} s = {per:.3} µs/{unit} (schedstat {per_sched:.3} µs/{unit})"
        ));
        summary["server_cpu_s"] = serde_json::json!(crate::stats::round3(cpu));
        summary[format!("server_cpu_us_per_{unit}")] = serde_json::json!(crate::stats::round3(per));
        summary[format!("server_sched_us_per_{unit}")] =
            serde_json::json!(crate::stats::round3(per_sched));
    }

    /// Prints the human lines and errors, then the JSON summary as the last line.
    pub fn print(&self) {
        for line in &self.lines {
            println!("{line}");
        }
        for error in &self.errors {
            println!("error: {error}");
        }
        if self.error_count > self.errors.len() as u64 {
            println!(
                "error: … {} more",
                self.error_count - self.errors.len() as u64
            );
        }
        println!("{}", self.summary);
    }
}
