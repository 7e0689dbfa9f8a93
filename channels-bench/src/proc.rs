//! Reading a server process's CPU time and memory from `/proc`.

use std::time::Duration;

/// A server process watched through `/proc/PID`.
#[derive(Debug, Clone, Copy)]
pub struct ServerProc {
    pid: u32,
    ticks_per_second: u64,
}

/// One reading of a server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// utime + stime from `/proc/PID/stat`, in seconds (clock-tick resolution, usually 10 ms).
    pub cpu_seconds: f64,
    /// Sum of the live threads' on-CPU time from `/proc/PID/task/*/schedstat`, in seconds (ns resolution;
    /// misses threads that exited between two samples).
    pub sched_seconds: f64,
    /// Resident set size from `/proc/PID/status` (`VmRSS`), in bytes.
    pub rss_bytes: u64,
}

impl Sample {
    /// CPU seconds spent between `earlier` and `self` (from `/proc/PID/stat`).
    pub fn cpu_since(&self, earlier: &Sample) -> f64 {
        (self.cpu_seconds - earlier.cpu_seconds).max(0.0)
    }

    /// CPU seconds spent between `earlier` and `self` (from schedstat, finer grained).
    pub fn sched_since(&self, earlier: &Sample) -> f64 {
        (self.sched_seconds - earlier.sched_seconds).max(0.0)
    }
}

impl ServerProc {
    /// Watches process `pid`; `None` when `/proc/PID/stat` can't be read.
    pub fn new(pid: u32) -> Option<Self> {
        std::fs::metadata(format!("/proc/{pid}/stat")).ok()?;
        Some(ServerProc {
            pid,
            ticks_per_second: clock_ticks(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Reads the counters now (zeros for what can't be read).
    pub fn sample(&self) -> Sample {
        Sample {
            cpu_seconds: self.cpu_ticks().unwrap_or(0) as f64 / self.ticks_per_second as f64,
            sched_seconds: self.sched_ns().unwrap_or(0) as f64 / 1e9,
            rss_bytes: self.rss_bytes().unwrap_or(0),
        }
    }

    /// Reads the counters after letting the server settle for `wait` (so RSS reflects finished work).
    pub async fn sample_after(&self, wait: Duration) -> Sample {
        tokio::time::sleep(wait).await;
        self.sample()
    }

    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The command name may hold spaces and parentheses: fields are counted after the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    fn sched_ns(&self) -> Option<u64> {
        let mut total = 0;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid)).ok()? {
            let Ok(task) = task else { continue };
            let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            total += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Some(total)
    }

    fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

/// What a process holds, for leak checks (the `churn` scenario): open file descriptors, threads, RSS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// Entries in `/proc/PID/fd`.
    pub fds: u64,
    /// `Threads:` in `/proc/PID/status`.
    pub threads: u64,
    /// `VmRSS:` in `/proc/PID/status`, in bytes.
    pub rss_bytes: u64,
}

impl ServerProc {
    /// Reads file descriptors, threads and RSS now; `None` when the process is gone (or `/proc` can't be
    /// read).
    pub fn resources(&self) -> Option<Resources> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .ok()?
            .count() as u64;
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Some(Resources {
            fds,
            threads: field("Threads:")?,
            rss_bytes: field("VmRSS:")? * 1024,
        })
    }
}

/// `sysconf(_SC_CLK_TCK)` through `getconf` (the workspace forbids `unsafe`); 100 if unavailable.
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}
