//! Load generator and floor server for benchmarking `channels` over loopback.
//!
//! Five scenarios, each bounded in count *and* time, each talking only to `127.0.0.x`:
//!
//! - [`echo`]: `C` connections send `M` text messages each to an echo server (at most `depth` in flight per
//!   connection) and check that every one comes back, in order: msgs/s and round-trip p50/p99/max.
//! - [`broadcast`]: `N` members and a sender on a chat server (every text `T` goes to every member, sender
//!   included, as `"[user] T"`). Each `T` carries a sequence number and a send timestamp; with a bounded
//!   number of messages in flight it measures deliveries/s and send-to-receive p50/p99/max, and counts lost,
//!   duplicated and out-of-order messages per receiver. [`broadcast::Pacing`] picks how the sender sends:
//!   closed loop (`InFlight`), open loop at a rate (`Rate`: what a server loses in normal use), or all at
//!   once (`Burst`: the overload policy). [`broadcast::ChatProtocol::Tutorial`] speaks the Channels 4
//!   tutorial's JSON instead, and members can be spread over several servers of one fleet (a layer they
//!   share), with deliveries, losses and latency reported per server.
//! - [`conns`]: holds `C` connections (source addresses spread over `127.0.0.x` past 25,000), each
//!   optionally exchanging one message, and reports the server's RSS per connection, the rate they opened
//!   at and the server's CPU per connection opened.
//! - [`churn`]: thousands of connect / send / abrupt-close cycles, a bounded number at a time, then the
//!   server's file descriptors, threads, RSS and exported gauges (connections, group members, tasks)
//!   before and after, once it settled.
//! - [`fleet`]: a fleet too large for one process (100,000 connections over several servers sharing a
//!   layer): `hold` processes each keep their share open from a source address of their own, `send` sends
//!   one broadcast once they are all members, and each holder reports when it reached every connection.
//!
//! Every scenario can watch the server process ([`proc::ServerProc`]) and report its CPU time per message or
//! delivery. The `channels-bench` binary wraps them; `channels-floor` is the reference server (the most
//! direct tokio-tungstenite implementation of the same protocols), `channels-ours` the same protocols on the
//! `channels` runtime with its configuration knobs exposed.
//!
//! ```no_run
//! # async fn run() {
//! let options = channels_bench::echo::EchoOptions {
//!     url: "ws://127.0.0.1:8000/".into(),
//!     connections: 20,
//!     messages: 50,
//!     ..Default::default()
//! };
//! let report = channels_bench::echo::run(&options, None).await;
//! assert!(report.is_clean());
//! # }
//! ```

pub mod broadcast;
pub mod churn;
pub mod client;
pub mod conns;
pub mod echo;
pub mod fleet;
pub mod proc;
pub mod report;
pub mod scrape;
pub mod servers;
pub mod stats;
pub mod stats_page;
