//! `channels-ours`: the echo and chat examples' consumers on the `channels` runtime, with the buffer
//! knobs exposed. Run: `channels-ours --protocol chat --bind 127.0.0.1:8200 --read-buffer 1024`.

use std::sync::Arc;

use channels_bench::servers::{KnobArgs, Protocol, routing};
use channels_runtime::Server;
use channels_runtime::layer::{InMemoryLayer, LayerConfig};
use clap::Parser;

/// `channels` serving the benchmark protocols.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8200")]
    bind: String,
    /// Which protocol to speak.
    #[arg(long, value_enum, default_value = "echo")]
    protocol: Protocol,
    /// Buffer sizes and queue capacity.
    #[command(flatten)]
    knobs: KnobArgs,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let knobs = args.knobs.knobs();
    let layer = InMemoryLayer::with_config(LayerConfig::default().capacity(knobs.capacity));
    Server::new(routing(args.protocol))
        .with_layer(Arc::new(layer))
        .with_config(knobs.server_config())
        .run(&args.bind)
        .await?;
    Ok(())
}
