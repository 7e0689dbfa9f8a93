//! `channels-floor`: the reference server. Run: `channels-floor --protocol echo --bind 127.0.0.1:8100`.
//!
//! The most direct tokio-tungstenite server for the echo and chat protocols (see
//! `channels_bench::servers::floor`): what `channels` is measured against.

use channels_bench::servers::{KnobArgs, Protocol, floor};
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
    /// Buffer sizes and queue capacity.
    #[command(flatten)]
    knobs: KnobArgs,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let knobs = args.knobs.knobs();
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!("Listening on http://{}/", listener.local_addr()?);
    tokio::select! {
        () = floor(listener, args.protocol, knobs) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
