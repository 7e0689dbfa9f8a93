//! Command-line options shared by every example: `--bind HOST:PORT` (default 127.0.0.1:8000), and the
//! server's limits, so that operators and tests can set them without code: `--allowed-origin ORIGIN`
//! (repeatable), `--max-connections N`, `--ping-interval-ms MS`, `--ping-timeout-ms MS`,
//! `--handshake-timeout-ms MS`. A limit not given keeps the example's own setting, which is
//! `ServerConfig`'s default unless the example sets another (see `rooms`).

use clap::Parser;

mod prometheus;
pub mod ticks;

use std::time::Duration;

use channels::prelude::*;
use channels::server::OriginPattern;

/// Options every example takes.
#[derive(Debug, Parser)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Use a Redis channel layer at this URL (e.g. redis://127.0.0.1:6379/) instead of the in-memory one,
    /// so that groups span every server started with the same URL. Needs `--features redis`.
    #[cfg(feature = "redis")]
    #[arg(long)]
    pub redis: Option<String>,
    /// Serve the server's metrics for Prometheus at http://HOST:PORT/metrics (port 0: any free port,
    /// printed at start). Without it no metrics recorder is installed, and recording costs next to nothing.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_bind: Option<String>,
    /// A browser origin allowed to open WebSockets besides the server's own host (repeatable;
    /// `https://*.example.com` for subdomains, `*` for any). Others get 403.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<OriginPattern>,
    /// Most WebSockets open at once; past it a handshake gets 503. Default: no cap.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Ping a WebSocket quiet for this long, in milliseconds (0: no pings). Default 20000 (Daphne's).
    #[arg(long, value_name = "MS")]
    pub ping_interval_ms: Option<u64>,
    /// Drop a pinged WebSocket that sends nothing for this long, in milliseconds. Default 30000.
    #[arg(long, value_name = "MS")]
    pub ping_timeout_ms: Option<u64>,
    /// Drop a client that has not sent a whole request head this long after connecting, in
    /// milliseconds. Default 10000.
    #[arg(long, value_name = "MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// Listen on this Unix domain socket instead of `--bind` (a reverse proxy on the same machine).
    #[cfg(unix)]
    #[arg(long, value_name = "PATH")]
    pub unix: Option<std::path::PathBuf>,
    /// Serve TLS (https://, wss://) on `--bind` with this PEM certificate chain; with `--tls-key`. Needs
    /// `--features tls`.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

#[allow(dead_code)] // each example uses the ways in it needs
impl Args {
    /// `base` (the example's limits) with the limits given on the command line.
    pub fn config(&self, base: ServerConfig) -> ServerConfig {
        let mut config = base;
        for origin in &self.allowed_origins {
            config = config.allowed_origin(origin.clone());
        }
        if let Some(max) = self.max_connections {
            config = config.max_connections(max);
        }
        if let Some(ms) = self.ping_interval_ms {
            config = config.ping_interval((ms > 0).then(|| Duration::from_millis(ms)));
        }
        if let Some(ms) = self.ping_timeout_ms {
            config = config.ping_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = self.handshake_timeout_ms {
            config = config.handshake_timeout(Duration::from_millis(ms));
        }
        config
    }

    /// A server for `routing` with `ServerConfig`'s defaults and these options: their limits, their
    /// layer.
    pub async fn server(
        &self,
        routing: Routing,
    ) -> std::result::Result<Server, Box<dyn std::error::Error>> {
        self.server_with(routing, ServerConfig::default()).await
    }

    /// A server for `routing` with the example's limits `base`, and these options over them.
    pub async fn server_with(
        &self,
        routing: Routing,
        base: ServerConfig,
    ) -> std::result::Result<Server, Box<dyn std::error::Error>> {
        self.with_layer(Server::new(routing).with_config(self.config(base)))
            .await
    }

    /// `server` with these options: their limits over `ServerConfig`'s defaults (this replaces the
    /// server's config: examples with limits of their own use [`server_with`](Self::server_with)), and
    /// their layer.
    pub async fn layer_for(
        &self,
        server: Server,
    ) -> std::result::Result<Server, Box<dyn std::error::Error>> {
        self.with_layer(server.with_config(self.config(ServerConfig::default())))
            .await
    }

    /// Serves `server` until Ctrl-C or SIGTERM on the listener these options ask for: `--unix PATH`,
    /// TLS on `--bind` (`--tls-cert`, `--tls-key`), or plain `--bind`; prints where.
    pub async fn run(&self, server: Server) -> std::result::Result<(), Box<dyn std::error::Error>> {
        #[cfg(unix)]
        if let Some(path) = &self.unix {
            let handle = server.spawn_unix(path).await?;
            println!("Listening on unix:{}", path.display());
            handle.run_until_stopped().await;
            return Ok(());
        }
        #[cfg(feature = "tls")]
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            let tls = channels::server::TlsConfig::from_pem_files(cert, key)?;
            let handle = server.spawn_tls(&self.bind, tls).await?;
            println!("Listening on https://{}/", handle.local_addr());
            handle.run_until_stopped().await;
            return Ok(());
        }
        server.run(&self.bind).await?;
        Ok(())
    }

    /// `server` on the layer these options ask for (and, with `--metrics-bind`, its metrics exported).
    async fn with_layer(
        &self,
        server: Server,
    ) -> std::result::Result<Server, Box<dyn std::error::Error>> {
        // --metrics-bind: the recorder goes in before the server records anything.
        if let Some(bind) = &self.metrics_bind {
            prometheus::serve(bind).await?;
        }
        #[cfg(feature = "redis")]
        if let Some(url) = &self.redis {
            let layer = channels::layer::RedisLayer::connect(url, Default::default()).await?;
            return Ok(server.with_layer(std::sync::Arc::new(layer)));
        }
        Ok(server)
    }
}

/// The whole `main` of a simple example: parse the options, log, serve `routing` until stopped.
#[allow(dead_code)] // examples with work of their own beside serving (ticker) use the pieces instead
pub async fn serve(routing: Routing) -> std::result::Result<(), Box<dyn std::error::Error>> {
    serve_with(routing, ServerConfig::default()).await
}

/// [`serve`], with the example's own limits (`base`) under the command line's.
#[allow(dead_code)]
pub async fn serve_with(
    routing: Routing,
    base: ServerConfig,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    init_logging();
    let server = args.server_with(routing, base).await?;
    args.run(server).await?;
    Ok(())
}

/// Logs to stderr at `info` (override with `RUST_LOG`): the server's warnings and errors (a consumer
/// that failed, an event with no handler, a slow client closed) are `tracing` events, shown only with a
/// subscriber. Keeps a subscriber installed already (an embedding program's). In colour only when
/// stderr is a terminal. Each WebSocket's span is at `debug` (`RUST_LOG=info,channels::connection=debug`
/// turns it on, at about 500 bytes per open connection).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: a log file gets plain text (and formatting it costs less).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
