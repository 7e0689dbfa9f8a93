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
