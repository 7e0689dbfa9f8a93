//! Command-line options shared by every example: `--bind HOST:PORT` (default 127.0.0.1:8000).

use clap::Parser;

use channels::prelude::*;

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
}

impl Args {
    /// `server` on the layer these options ask for.
    pub async fn layer_for(
        &self,
        server: Server,
    ) -> std::result::Result<Server, Box<dyn std::error::Error>> {
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
    let args = Args::parse();
    init_logging();
    let server = args.layer_for(Server::new(routing)).await?;
    server.run(&args.bind).await?;
    Ok(())
}

/// Logs to stderr at `info` (override with `RUST_LOG`): the server's warnings and errors (a consumer
/// that failed, an event with no handler, a slow client closed) are `tracing` events, shown only with a
/// subscriber. Keeps a subscriber installed already (an embedding program's).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
