//! `channels-floor`: the reference server. Run: `channels-floor --protocol echo --bind 127.0.0.1:8100`.
//!
//! The most direct tokio-tungstenite server for the echo and chat protocols (see
//! `channels_bench::servers::floor`): what `channels` is measured against.

use channels_bench::servers::{KnobArgs, Protocol, floor};
use clap::Parser;

/// The floor's read buffer when none is given: 1 KiB, as in every earlier floor run.
const FLOOR_READ_BUFFER: usize = 1 << 10;

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
    let mut knobs = args.knobs.knobs();
    // The floor reads as plain tokio-tungstenite does, one buffer per connection read into directly: it
    // keeps the 1 KiB it always had (ours reads ahead into a per-thread buffer, so its default is
    // smaller), unless --read-buffer says otherwise.
    if args.knobs.read_buffer.is_none() {
        knobs.read_buffer = FLOOR_READ_BUFFER;
    }
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!("Listening on http://{}/", listener.local_addr()?);
    tokio::select! {
        () = floor(listener, args.protocol, knobs) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
