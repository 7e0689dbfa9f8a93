//! `X-Forwarded-For`, `X-Real-IP` and `X-Forwarded-Proto`, believed only from trusted proxies.
//!
//! Behind a reverse proxy (nginx, a load balancer) every connection comes from the proxy: the client's
//! address and whether it used TLS arrive in headers the proxy adds. Anyone can send those headers, so
//! they count only when the peer is one of [`ServerConfig::trusted_proxies`](super::ServerConfig)
//! (Daphne's `--proxy-headers` believes them from every peer once switched on; here the peer must be
//! listed).
//!
//! # The rule
//!
//! When the peer is a trusted proxy:
//! - **client**: the `X-Forwarded-For` list (all such headers, in order) is read from the right, the end
//!   the trusted proxy appended to; addresses that are themselves trusted proxies are skipped, and the
//!   first one that is not is the client. A client can put anything at the left of the list, so the
//!   left-most entry (Daphne's choice) is believed only when every entry right of it is a trusted proxy.
//!   An entry that is not an address (`unknown`, an obfuscated name) stops the walk at the last address
//!   read. An entry may carry a port (`203.0.113.7:5123`, `[2001:db8::1]:5123`); otherwise the client's
//!   port is 0 (unknown). Without `X-Forwarded-For`, `X-Real-IP` (one address) is used.
//! - **scheme**: the right-most `X-Forwarded-Proto` value, the one the trusted proxy set: `https` or
//!   `wss` make the scope's scheme `https`/`wss`, `http` or `ws` make it `http`/`ws`; anything else is
//!   ignored.
//!
//! When the peer is not trusted, these headers are ignored (they stay in the scope's headers, as sent):
//! the client is the peer, the scheme is the listener's.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use hyper::HeaderMap;

/// One entry of [`ServerConfig::trusted_proxies`](super::ServerConfig): an address or a network (CIDR)
/// whose forwarding headers are believed.
///
/// ```
/// use channels_runtime::ServerConfig;
/// use channels_runtime::server::TrustedProxy;
///
/// # fn main() -> Result<(), channels_runtime::server::ProxyError> {
/// let config = ServerConfig::default()
///     .trusted_proxy("127.0.0.1".parse()?)
///     .trusted_proxy("10.0.0.0/8".parse()?);
/// let lan: TrustedProxy = "10.0.0.0/8".parse()?;
/// assert!(lan.contains("10.1.2.3".parse().unwrap()));
/// assert!(!lan.contains("192.168.0.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

/// Why a trusted proxy could not be parsed (for example from a command-line flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid trusted proxy {text:?}: expected an IP address or a network such as 10.0.0.0/8 or fd00::/8"
)]
pub struct ProxyError {
    /// The text that was given.
    pub text: String,
}

impl TrustedProxy {
    /// The proxy at this one address.
    pub fn addr(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        TrustedProxy {
            network: addr,
            prefix: bits(addr),
        }
    }

    /// Whether `ip` is this proxy, or in this network. IPv4 addresses mapped into IPv6
    /// (`::ffff:10.0.0.1`, as a dual-stack listener sees IPv4 peers) count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(ip)), 32, self.prefix)
                    == masked(u128::from(u32::from(net)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(ip), 128, self.prefix)
                    == masked(u128::from(net), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// The first `prefix` bits of the `width`-bit number `value`.
fn masked(value: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        value >> (width - prefix)
    }
}

impl FromStr for TrustedProxy {
    type Err = ProxyError;

    /// `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`.
    fn from_str(text: &str) -> Result<Self, ProxyError> {
        let error = || ProxyError {
            text: text.to_owned(),
        };
        let trimmed = text.trim();
        let Some((addr, prefix)) = trimmed.split_once('/') else {
            return trimmed.parse().map(TrustedProxy::addr).map_err(|_| error());
        };
        let addr: IpAddr = addr.parse().map_err(|_| error())?;
        let prefix: u8 = prefix.parse().map_err(|_| error())?;
        if prefix > bits(addr) {
            return Err(error());
        }
        Ok(TrustedProxy {
            network: addr,
            prefix,
        })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == bits(self.network) {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// What a request says about its client once its forwarding headers are weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forwarded {
    /// The client: the peer, or the address a trusted proxy forwarded.
    pub(crate) client: Option<SocketAddr>,
    /// `Some(true)` when a trusted proxy says the client used TLS, `Some(false)` when it says it did
    /// not, `None` when no trusted proxy says.
    pub(crate) secure: Option<bool>,
}

/// The client and scheme of a request from `peer` with `headers`; see the module's docs for the rule.
pub(crate) fn forwarded(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> Forwarded {
    let untouched = Forwarded {
        client: peer,
        secure: None,
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|proxy| proxy.contains(ip));
    let Some(peer_addr) = peer.filter(|peer| is_trusted(peer.ip())) else {
        return untouched;
    };
    let list = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect::<Vec<_>>()
    };
    let mut client = peer_addr;
    let forwarded_for = list("x-forwarded-for");
    if forwarded_for.is_empty() {
        if let Some(real) = list("x-real-ip").first().and_then(|e| parse_entry(e)) {
            client = real;
        }
    } else {
        for entry in forwarded_for.iter().rev() {
            let Some(addr) = parse_entry(entry) else {
                break;
            };
            client = addr;
            if !is_trusted(addr.ip()) {
                break;
            }
        }
    }
    let secure = list("x-forwarded-proto").last().and_then(|proto| {
        match proto.to_ascii_lowercase().as_str() {
            "https" | "wss" => Some(true),
            "http" | "ws" => Some(false),
            _ => None,
        }
    });
    Forwarded {
        client: Some(client),
        secure,
    }
}

/// One `X-Forwarded-For` entry: an address, with a port or not (`1.2.3.4`, `1.2.3.4:5`, `::1`,
/// `[::1]:5`, `[::1]`).
fn parse_entry(entry: &str) -> Option<SocketAddr> {
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .unwrap_or(entry);
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|p| p.parse().expect(p)).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    fn peer(addr: &str) -> Option<SocketAddr> {
        Some(addr.parse().expect(addr))
    }

    #[test]
    fn networks_contain_their_addresses() {
        let net: TrustedProxy = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let all: TrustedProxy = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "host",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert_eq!(one.to_string(), "127.0.0.1");
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        let seen = forwarded(peer("9.9.9.9:1000"), &h, &proxies(&["127.0.0.1"]));
        assert_eq!(seen.client, peer("9.9.9.9:1000"));
        assert_eq!(seen.secure, None);
        let seen = forwarded(peer("127.0.0.1:1000"), &h, &[]);
        assert_eq!(seen.client, peer("127.0.0.1:1000"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        // A client that forges the left of the list can't choose its address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        let seen = forwarded(peer("127.0.0.1:1000"), &h, &trusted);
        assert_eq!(seen.client, peer("203.0.113.7:0"));
        // Two headers are one list; a port is kept.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7:5123"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        assert_eq!(
            forwarded(peer("127.0.0.1:1000"), &h, &trusted).client,
            peer("203.0.113.7:5123")
        );
        // Every entry trusted: the left-most.
        let h = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(
            forwarded(peer("127.0.0.1:1000"), &h, &trusted).client,
            peer("10.0.0.3:0")
        );
        // Garbage stops the walk at the last address read.
        let h = headers(&[("x-forwarded-for", "203.0.113.7, unknown, 10.0.0.2")]);
        assert_eq!(
            forwarded(peer("127.0.0.1:1000"), &h, &trusted).client,
            peer("10.0.0.2:0")
        );
        // IPv6, bracketed with a port.
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:80")]);
        assert_eq!(
            forwarded(peer("127.0.0.1:1000"), &h, &trusted).client,
            peer("[2001:db8::1]:80")
        );
    }

    #[test]
    fn x_real_ip_and_the_scheme() {
        let trusted = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-real-ip", "203.0.113.9"), ("x-forwarded-proto", "https")]);
        let seen = forwarded(peer("127.0.0.1:1000"), &h, &trusted);
        assert_eq!(seen.client, peer("203.0.113.9:0"));
        assert_eq!(seen.secure, Some(true));
        let h = headers(&[("x-forwarded-proto", "https, http")]);
        assert_eq!(
            forwarded(peer("127.0.0.1:1"), &h, &trusted).secure,
            Some(false)
        );
        let h = headers(&[("x-forwarded-proto", "gopher")]);
        assert_eq!(forwarded(peer("127.0.0.1:1"), &h, &trusted).secure, None);
    }
}
