//! What the Redis tests share: a `redis-server` of the test's own on a free port (the binary must be on
//! PATH; `.ci/run` installs it when missing; no test touches a shared one), and layers on it, each
//! standing for one process.
#![cfg(feature = "redis")]
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use channels::layer::{LayerConfig, RedisConfig, RedisLayer};

/// A redis-server of this test's own, on a free port. Killed when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Child,
}

impl OwnRedis {
    /// Starts one on `port` (not waiting for it to listen).
    pub fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        OwnRedis { port, child }
    }

    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port()
    }

    /// Waits until it answers `PING` (bounded: 5 s).
    pub async fn wait_ready(&self) {
        for _ in 0..200 {
            if self.cli(&["PING"]).as_deref() == Some("PONG") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on {} did not start", self.port);
    }

    /// Runs one command with `redis-cli` (installed with redis-server); its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        OwnRedis::cli_on(self.port, args)
    }

    /// [`cli`](Self::cli) on any port.
    pub fn cli_on(port: u16, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// A new redis-server on a free port, ready to take connections.
    pub async fn launch() -> OwnRedis {
        let redis = OwnRedis::start(OwnRedis::free_port());
        redis.wait_ready().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (SIGCONT): it then runs what it was sent meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A layer, as one process would make it, on `redis`, with channels_redis's defaults.
pub async fn process(redis: &OwnRedis, limits: LayerConfig) -> RedisLayer {
    RedisLayer::connect(&redis.url(), limits)
        .await
        .expect("the test's redis-server is up")
}

/// `count` servers of the `chat` example, each one process with its own layer on `redis`: one fleet.
pub async fn chat_fleet(redis: &OwnRedis, count: usize) -> Vec<channels::ServerHandle> {
    let mut servers = Vec::with_capacity(count);
    for _ in 0..count {
        let layer = process(redis, LayerConfig::default()).await;
        servers.push(
            channels::Server::new(crate::chat::channel_routing())
                .with_layer(std::sync::Arc::new(layer))
                .spawn("127.0.0.1:0")
                .await
                .expect("server starts"),
        );
    }
    servers
}

/// A layer with every option at hand.
pub async fn process_with(redis: &OwnRedis, config: RedisConfig) -> RedisLayer {
    RedisLayer::open(config.hosts([redis.url()]))
        .await
        .expect("the test's redis-server is up")
}

/// A Redis Sentinel of the test's own, monitoring `master` as `mymaster`. Killed when dropped.
pub struct OwnSentinel {
    pub port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl OwnSentinel {
    pub async fn launch(master: &OwnRedis) -> OwnSentinel {
        let port = OwnRedis::free_port();
        let dir = std::env::temp_dir().join(format!("channels-sentinel-{port}"));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        // Sentinel rewrites its config file, so it gets one of its own.
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 1\n",
                dir.display(),
                master.port
            ),
        )
        .expect("the config is written");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let sentinel = OwnSentinel { port, child, dir };
        let ask = ["SENTINEL", "get-master-addr-by-name", "mymaster"];
        for _ in 0..200 {
            let probe = OwnRedis::cli_on(port, &ask);
            if probe.is_some_and(|addr| addr.contains(&master.port.to_string())) {
                return sentinel;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis sentinel on {port} did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnSentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
