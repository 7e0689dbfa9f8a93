//! `--metrics-bind HOST:PORT`: the server's metrics (named in `channels::metrics`) in Prometheus' text
//! format at `http://HOST:PORT/metrics`, through `metrics-exporter-prometheus`'s recorder.
//!
//! The exporter's recorder renders; this file serves the rendering on a port of its own (so that port 0
//! works, and the address bound is printed), answering `GET /metrics` and nothing else.

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The most a scrape's request head may take: Prometheus sends a few hundred bytes.
const MAX_HEAD: usize = 8 << 10;

/// How long a scraper may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for the process and serves it on `bind`; prints and returns the
/// address bound. Call once, before the server starts (metrics recorded earlier are not kept).
pub async fn serve(bind: &str) -> Result<SocketAddr, Box<dyn Error>> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    println!("Metrics on http://{addr}/metrics");
    let upkeep = handle.clone();
    tokio::spawn(async move {
        // The exporter asks its owner to drain histograms now and then (this server records none yet).
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(tokio::spawn(answer(stream, handle.clone()))),
                Err(error) => {
                    tracing::warn!(%error, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(addr)
}

/// Answers one scrape: `GET /metrics` gets the rendering, anything else 404; one request per connection.
async fn answer(mut stream: TcpStream, handle: PrometheusHandle) {
    let mut head = Vec::with_capacity(512);
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let wanted = head.starts_with(b"GET /metrics ") || head.starts_with(b"GET /metrics?");
    let (status, content_type, body) = if wanted {
        (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            handle.render(),
        )
    } else {
        (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "Not Found: try /metrics\n".to_owned(),
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
