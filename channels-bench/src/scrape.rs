//! Reading a server's gauges from a Prometheus text endpoint (`http://127.0.0.x:PORT/metrics`).
//!
//! The `churn` scenario reads what `/proc` can't show (open connections, group members, live tasks) from
//! such an endpoint: `channels-ours --stats-bind ADDR` serves one, and so does any server exporting its
//! metrics in the Prometheus text format. A minimal HTTP/1.0 client over loopback: one request per reading,
//! a bounded answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest answer read (a metrics page is a few KiB).
const MAX_ANSWER: u64 = 4 << 20;

/// Gauges by name, labels included as written (`channels_group_members{group="chat"}`).
pub type Gauges = BTreeMap<String, f64>;

/// An `http://IP:PORT/path` URL on the loopback range.
#[derive(Debug, Clone)]
pub struct MetricsUrl {
    addr: SocketAddr,
    path: String,
}

impl MetricsUrl {
    /// Parses `http://127.0.0.x:PORT/path` (path default `/metrics`); refuses non-loopback addresses.
    pub fn parse(url: &str) -> Result<MetricsUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/metrics"),
        };
        let addr: SocketAddr = authority
            .parse()
            .map_err(|_| format!("{url}: expected http://IP:PORT/..., got {authority:?}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{url}: benchmarks only talk to loopback addresses"));
        }
        Ok(MetricsUrl {
            addr,
            path: path.to_owned(),
        })
    }

    /// Fetches the page and parses its samples, within `timeout`.
    pub async fn fetch(&self, timeout: Duration) -> Result<Gauges, String> {
        let fetch = async {
            let mut stream = tokio::net::TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            // HTTP/1.0: the answer is delimited by the close, never chunked.
            let request = format!(
                "GET {} HTTP/1.0\r\nHost: {}\r\nAccept: text/plain\r\n\r\n",
                self.path, self.addr
            );
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(|e| format!("write: {e}"))?;
            let mut answer = Vec::new();
            (&mut stream)
                .take(MAX_ANSWER)
                .read_to_end(&mut answer)
                .await
                .map_err(|e| format!("read: {e}"))?;
            let answer = String::from_utf8_lossy(&answer);
            let (head, body) = answer
                .split_once("\r\n\r\n")
                .ok_or("no end of the answer's head")?;
            let status = head.lines().next().unwrap_or_default();
            if status.split_whitespace().nth(1) != Some("200") {
                return Err(format!("answer {status:?}"));
            }
            Ok(parse(body))
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| format!("no answer from {} within {timeout:?}", self.addr))?
    }
}

/// The samples of a Prometheus text page: `name{labels} value [timestamp]` lines; comments and lines
/// that don't parse are skipped.
pub fn parse(page: &str) -> Gauges {
    let mut gauges = Gauges::new();
    for line in page.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.rfind('}') {
            Some(end) if line.contains('{') => (&line[..=end], &line[end + 1..]),
            _ => match line.split_once(char::is_whitespace) {
                Some(split) => split,
                None => continue,
            },
        };
        if let Some(Ok(value)) = rest.split_whitespace().next().map(str::parse::<f64>) {
            gauges.insert(name.trim().to_owned(), value);
        }
    }
    gauges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let page =
            "# HELP x y\n# TYPE a gauge\na 3\nb{group=\"chat room\"} 4.5 1700000000\nbad\nc nan?\n";
        let gauges = parse(page);
        assert_eq!(gauges.get("a"), Some(&3.0));
        assert_eq!(gauges.get("b{group=\"chat room\"}"), Some(&4.5));
        assert_eq!(gauges.len(), 2, "{gauges:?}");
    }

    #[test]
    fn only_loopback_http() {
        assert!(MetricsUrl::parse("http://127.0.0.1:9/metrics").is_ok());
        assert_eq!(
            MetricsUrl::parse("http://127.0.0.1:9").unwrap().path,
            "/metrics"
        );
        assert!(MetricsUrl::parse("http://10.0.0.1:9/").is_err());
        assert!(MetricsUrl::parse("https://127.0.0.1:9/").is_err());
    }
}
