//! Opening client WebSockets over loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// Connections per source address before moving to the next `127.0.0.x` (each source address has about
/// 28,000 ephemeral ports).
pub const CONNS_PER_SOURCE: usize = 25_000;

/// Host, port and path of a `ws://` URL, checked to be on the loopback range.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// The URL as given.
    pub url: String,
}

impl Target {
    /// Parses `ws://127.0.0.x:PORT/path`; refuses anything that is not a loopback address.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("{url}: only ws:// URLs are supported"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let addr: SocketAddr = authority
            .parse()
            .map_err(|_| format!("{url}: expected ws://IP:PORT/..., got {authority:?}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{url}: benchmarks only talk to loopback addresses (127.0.0.0/8, ::1)"
            ));
        }
        Ok(Target {
            addr,
            url: url.to_owned(),
        })
    }
}

/// The client side's WebSocket configuration: small buffers, so that holding many connections is cheap.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 << 10)
        .write_buffer_size(0)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20))
}

/// The source address of the `i`-th connection: `127.0.0.(1 + i / per_source)`; `None` (let `connect`
/// choose, which is cheaper than `bind`) for the first `per_source`.
pub fn source_for(i: usize, per_source: usize) -> Option<IpAddr> {
    let n = 1 + (i / per_source.max(1)).min(253);
    (n > 1).then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, n as u8)))
}

/// Opens one WebSocket to `target`, from `source` when given, within `timeout`.
pub async fn connect(
    target: &Target,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<Ws, String> {
    let attempt = async {
        let socket = match target.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| format!("socket: {e}"))?;
        if let Some(ip) = source {
            // Ports in TIME_WAIT from earlier runs may be reused; without this, bind() searches long.
            let _ = socket.set_reuseaddr(true);
            socket
                .bind(SocketAddr::new(ip, 0))
                .map_err(|e| format!("bind {ip}: {e}"))?;
        }
        let stream = socket
            .connect(target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", target.addr))?;
        upgrade(target, stream).await
    };
    within(timeout, attempt).await
}

/// The WebSocket handshake over a connected `stream` (with `TCP_NODELAY`, as every scenario's clients).
pub async fn upgrade(target: &Target, stream: tokio::net::TcpStream) -> Result<Ws, String> {
    let _ = stream.set_nodelay(true);
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        target.url.as_str(),
        stream,
        Some(client_config()),
    )
    .await
    .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

/// `attempt`, or an error saying it did not connect within `timeout`.
pub async fn within(
    timeout: Duration,
    attempt: impl Future<Output = Result<Ws, String>>,
) -> Result<Ws, String> {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("connect timed out after {timeout:?}")),
    }
}

/// Opens `count` WebSockets, at most `parallel` handshakes at a time, all before `deadline`. With
/// `per_source`, connection `i` binds its source address with [`source_for`].
///
/// Returns the open connections, in order, or the first error.
pub async fn connect_many(
    target: &Target,
    count: usize,
    parallel: usize,
    per_source: Option<usize>,
    deadline: Instant,
) -> Result<Vec<Ws>, String> {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let permit = tokio::time::timeout_at(deadline, permits.clone().acquire_owned())
            .await
            .map_err(|_| format!("deadline passed after opening {i} of {count} connections"))?
            .map_err(|e| e.to_string())?;
        let target = target.clone();
        let source = per_source.and_then(|n| source_for(i, n));
        let left = deadline.saturating_duration_since(Instant::now());
        tasks.spawn(async move {
            let result = connect(&target, source, left).await;
            drop(permit);
            (i, result)
        });
    }
    let mut slots: Vec<Option<Ws>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.map_err(|e| e.to_string())?;
        match result {
            Ok(ws) => slots[i] = Some(ws),
            Err(error) => {
                tasks.abort_all();
                return Err(format!("connection {i}: {error}"));
            }
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Sends `text` and waits for the next text frame, within `timeout`.
pub async fn exchange(ws: &mut Ws, text: &str, timeout: Duration) -> Result<Utf8Bytes, String> {
    let round = async {
        ws.send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))?;
        next_text(ws).await
    };
    tokio::time::timeout(timeout, round)
        .await
        .map_err(|_| format!("no reply within {timeout:?}"))?
}

/// The next text frame (pings and pongs skipped); an error when the stream closes or fails.
pub async fn next_text<S>(stream: &mut S) -> Result<Utf8Bytes, String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text),
            Some(Ok(Message::Close(frame))) => return Err(format!("server closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("connection closed".into()),
        }
    }
}
