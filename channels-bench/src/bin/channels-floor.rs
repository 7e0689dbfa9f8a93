//! `channels-floor`: the reference server. Run: `channels-floor --protocol echo --bind 127.0.0.1:8100`.
//!
//! The most direct tokio-tungstenite server for the echo and chat protocols (see
//! `channels_bench::servers::floor`): what `channels` is measured against.

use channels_bench::servers::{Knobs, Protocol, floor};
use clap::Parser;

/// The floor server: plain tokio-tungstenite, same protocols and buffer knobs as `channels`.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8100")]
    bind: String,
    /// Which protocol to speak.
    #[arg(long, value_enum, default_value = "echo")]
    protocol: Protocol,
    /// tungstenite read buffer in bytes (default: the same as `channels`' ServerConfig).
    #[arg(long)]
    read_buffer: Option<usize>,
    /// tungstenite write buffer in bytes (default: the same as `channels`' ServerConfig).
    #[arg(long)]
    write_buffer: Option<usize>,
    /// Messages queued per connection before a broadcast skips it (default: the layer's capacity).
    #[arg(long)]
    capacity: Option<usize>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let defaults = Knobs::default();
    let knobs = Knobs {
        read_buffer: args.read_buffer.unwrap_or(defaults.read_buffer),
        write_buffer: args.write_buffer.unwrap_or(defaults.write_buffer),
        capacity: args.capacity.unwrap_or(defaults.capacity),
        ..defaults
    };
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!("Listening on http://{}/", listener.local_addr()?);
    tokio::select! {
        () = floor(listener, args.protocol, knobs) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
