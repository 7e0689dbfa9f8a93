//! A server's gauges as a Prometheus text page on a port of its own (`channels-ours --stats-bind ADDR`),
//! for the `churn` scenario: what `/proc` can't show (open WebSockets, group members, live tasks).
//!
//! One request at a time, answered inline (no task per request, so the live-task gauge doesn't count its
//! own reader), each bounded by a 2 s deadline and 8 KiB of request head.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request on `listener` with `page()` as `text/plain; version=0.0.4`, until dropped.
pub async fn serve(listener: TcpListener, page: impl Fn() -> String) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let answer = async {
            // Read the request head (its content is not needed: every path gets the page).
            let mut head = Vec::with_capacity(512);
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let body = page();
            let answer = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
    }
}

/// One gauge as Prometheus text (`# TYPE` line and sample).
pub fn gauge(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    use std::fmt::Write;
    let _ = writeln!(out, "# TYPE {name} gauge");
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}
