//! What the interop and browser tests share: where `tests/interop/setup.sh` puts the virtualenv and
//! node_modules (and the failure that says to run it), child processes that are killed when dropped,
//! bounded runs of a command, and waiting for a port.
//!
//! The set-up rule: a test whose tools are missing runs `tests/interop/setup.sh` itself (once per test
//! binary), so `cargo test --workspace --all-features` alone sets up a fresh machine; if the tools are
//! still missing after it, the test FAILS with the set-up's output, unless its skip variable
//! (`CHANNELS_SKIP_INTEROP=1`, `CHANNELS_SKIP_BROWSER=1`) is set; then it passes without running and says
//! so on stderr. A missing tool never passes silently.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use channels::testing::{TestError, WebsocketCommunicator};

/// How long a test waits for a process of its own (Daphne, a Django script, node) to be ready or done.
pub const PROCESS_GUARD: Duration = Duration::from_secs(60);

/// The workspace root (the tests package is `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `tests/interop/<rel>`.
pub fn interop_dir(rel: &str) -> PathBuf {
    repo_root().join("tests/interop").join(rel)
}

/// The virtualenv `tests/interop/setup.sh` makes (`CHANNELS_INTEROP_VENV` overrides, for both).
pub fn venv() -> PathBuf {
    std::env::var_os("CHANNELS_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/interop-venv"))
}

/// Whether the test should run: `true` when every path in `needed` exists, after running the set-up
/// once if some was missing; `false` (the test returns at once) when some is missing and `skip_var` is
/// set to `1`; a panic naming the missing paths and what the set-up said otherwise.
pub fn ready_or_skip(skip_var: &str, needed: &[PathBuf]) -> bool {
    let missing = |needed: &[PathBuf]| -> Vec<String> {
        needed
            .iter()
            .filter(|path| !path.exists())
            .map(|path| path.display().to_string())
            .collect()
    };
    if missing(needed).is_empty() {
        return true;
    }
    if std::env::var(skip_var).as_deref() == Ok("1") {
        eprintln!(
            "{skip_var}=1: skipped, missing {}",
            missing(needed).join(", ")
        );
        return false;
    }
    let setup = run_setup_once();
    let still_missing = missing(needed);
    if still_missing.is_empty() {
        return true;
    }
    panic!(
        "missing {} after `bash tests/interop/setup.sh` ({setup}); fix the set-up, or set {skip_var}=1 \
         to skip this test",
        still_missing.join(", ")
    );
}

/// Runs `tests/interop/setup.sh` the first time a test needs it (tests run in parallel: the others
/// wait for that run), and says how it went.
fn run_setup_once() -> String {
    static SETUP: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let mut outcome = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    outcome
        .get_or_insert_with(|| {
            eprintln!("interop set-up missing: running tests/interop/setup.sh");
            match Command::new("bash")
                .arg(interop_dir("setup.sh"))
                .stdin(Stdio::null())
                .output()
            {
                Ok(out) if out.status.success() => "it succeeded".to_owned(),
                Ok(out) => format!(
                    "it failed with {}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(error) => format!("it could not start: {error}"),
            }
        })
        .clone()
}

/// A child process of the test, killed (and reaped) when dropped; its output goes to a log file that
/// [`log`](Self::log) reads, so a failing test can show what the process said.
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Starts `command`, its stdout and stderr to a new log file named after `name`.
    pub fn spawn(name: &str, command: &mut Command) -> ChildGuard {
        let log = std::env::temp_dir().join(format!(
            "channels-{name}-{}-{}.log",
            std::process::id(),
            unique()
        ));
        let file = std::fs::File::create(&log).expect("a log file in the temp dir");
        let err = file.try_clone().expect("the log file, twice");
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
        ChildGuard {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// What the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded by `limit`) for the process to exit; its exit status and output. Polls the
    /// process table: a child's exit is not an event this runtime can await without its `process`
    /// feature.
    pub async fn wait(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return (Some(status), self.log()),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => return (None, self.log()),
            }
        }
    }

    /// Panics with the process's log unless it is still running.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `command` to completion within [`PROCESS_GUARD`]; panics with its output if it fails or
/// overruns (it is killed then).
pub async fn run_to_success(name: &str, command: &mut Command) -> String {
    let (status, log) = ChildGuard::spawn(name, command).wait(PROCESS_GUARD).await;
    match status {
        Some(status) if status.success() => log,
        Some(status) => panic!("{name} failed ({status}):\n{log}"),
        None => panic!("{name} did not finish within {PROCESS_GUARD:?}:\n{log}"),
    }
}

/// A free port on 127.0.0.1 (bound then released: the process told to use it binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something accepts TCP connections on `addr` (bounded: [`PROCESS_GUARD`]); panics with
/// `child`'s log if it exits or overruns.
pub async fn wait_for_port(addr: SocketAddr, child: &mut ChildGuard) {
    let deadline = Instant::now() + PROCESS_GUARD;
    while Instant::now() < deadline {
        child.assert_running();
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "nothing listens on {addr} after {PROCESS_GUARD:?}:\n{}",
        child.log()
    );
}

/// The next JSON frame, waiting up to [`PROCESS_GUARD`] (for what a Python process, still starting,
/// sends); a close or a frame that isn't JSON fails at once.
pub async fn receive_json_slow(ws: &mut WebsocketCommunicator) -> serde_json::Value {
    let deadline = Instant::now() + PROCESS_GUARD;
    loop {
        match ws.receive_json().await {
            Ok(value) => return value,
            // `receive` is cancel-safe: a timed-out wait loses nothing.
            Err(TestError::Timeout(_)) if Instant::now() < deadline => continue,
            Err(error) => panic!("expected a JSON frame: {error}"),
        }
    }
}

/// `tests/interop/browser` when the browser tests can run: `/usr/bin/chromium`, playwright-core and
/// `node` are there (after the set-up, per [`ready_or_skip`]); `None` (the test returns at once) when
/// something is missing and `CHANNELS_SKIP_BROWSER=1`; a panic saying what to install otherwise.
pub fn browser_dir_or_skip() -> Option<PathBuf> {
    let browser_dir = interop_dir("browser");
    let needed = [
        "/usr/bin/chromium".into(),
        browser_dir.join("node_modules/playwright-core/package.json"),
    ];
    if !ready_or_skip("CHANNELS_SKIP_BROWSER", &needed) {
        return None;
    }
    let node_works = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        node_works,
        "`node` is not on PATH: install Node.js (and run `bash tests/interop/setup.sh`), or set \
         CHANNELS_SKIP_BROWSER=1 to skip this test"
    );
    Some(browser_dir)
}

/// Runs `node <browser_dir>/<script> <base> <screenshots>` within [`PROCESS_GUARD`]; panics with its
/// output unless it exits 0 and printed every line in `checks` (the script's own checks: it exits 1
/// when one fails, and prints `ok: ...` for each that held).
pub async fn run_browser_script(
    browser_dir: &Path,
    script: &str,
    base: &str,
    screenshots: &Path,
    checks: &[&str],
) {
    let node = ChildGuard::spawn(
        &format!("node-{script}"),
        Command::new("node")
            .arg(browser_dir.join(script))
            .arg(base)
            .arg(screenshots)
            .current_dir(browser_dir),
    );
    let (status, output) = node.wait(PROCESS_GUARD).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the browser run failed ({status:?}):\n{output}"
    );
    for check in checks {
        assert!(output.contains(check), "missing {check:?} in:\n{output}");
    }
}
