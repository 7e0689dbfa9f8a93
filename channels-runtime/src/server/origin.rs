//! The `Origin` check of a WebSocket handshake: which web pages may open a socket to this server.
//!
//! A browser sends `Origin` with every WebSocket handshake and lets any page open a socket to any host,
//! with the user's cookies: without a check, a page on another site can talk to the server as the
//! logged-in user (cross-site WebSocket hijacking). Channels guards against it with
//! `AllowedHostsOriginValidator`; this module is that guard, on by default.
//!
//! # The rule
//!
//! A handshake passes when
//! 1. it has **no `Origin`** header: it does not come from a browser (a native app, a script, a load
//!    balancer's health check), and cross-site hijacking needs a browser. *Channels refuses these unless
//!    `"*"` is allowed; we let them in, as the browser is the threat the check exists for.*
//! 2. its `Origin` is the **same host** the request was sent to: the origin's host equals the `Host`
//!    header's host (ASCII case-insensitive; browsers send international names in punycode, IPv6 in
//!    brackets), and the origin's port equals the `Host` header's port. A port left out is the default
//!    of the *origin's* scheme (80 for `http`/`ws`, 443 for `https`/`wss`): a page at
//!    `https://example.com` opening `wss://example.com/ws/` sends `Origin: https://example.com` and
//!    `Host: example.com`, both port 443. The scheme itself is not compared: behind a TLS-terminating
//!    proxy the server can't see it, and the host and port are what make a site.
//!    *Channels' `AllowedHostsOriginValidator` compares only the host name with `ALLOWED_HOSTS`, so a page
//!    on another port of the same host passes there and is refused here.*
//! 3. or its `Origin` matches one of [`ServerConfig::allowed_origins`](super::ServerConfig): see
//!    [`OriginPattern`] for the forms (exact origins, `*.` wildcard subdomains, Django's host-only forms,
//!    `*` for any).
//!
//! Behind a reverse proxy the `Host` compared is the one the proxy sends: have it pass the client's
//! (nginx: `proxy_set_header Host $host;`, as its default is the upstream's address), or list the public
//! origin in `allowed_origins`. `X-Forwarded-Host` is not read (Django reads it only with
//! `USE_X_FORWARDED_HOST`).
//!
//! Anything else, including `Origin: null` (sandboxed frames, `file://` pages), an `Origin` that is not an
//! origin, or more than one `Origin` header, is refused with **403** before any consumer runs, and logged
//! at info level with the origin.

use std::fmt;
use std::str::FromStr;

/// One entry of [`ServerConfig::allowed_origins`](super::ServerConfig): which browser origins may open
/// WebSockets besides the server's own host.
///
/// | pattern | matches | compared with |
/// |---|---|---|
/// | `https://example.com` | `https://example.com`, `https://example.com:443` | scheme, host, port (as browsers send them: a left-out port is the scheme's default) |
/// | `http://localhost:3000` | a development server on port 3000 | scheme, host, port |
/// | `https://*.example.com` | `https://a.example.com`, `https://a.b.example.com`, not `https://example.com` | scheme, port, and the host is a subdomain |
/// | `example.com` | `example.com` on any scheme and port | host only, as Django's `ALLOWED_HOSTS` |
/// | `*.example.com` | any subdomain of `example.com`, any scheme and port | host only |
/// | `.example.com` | `example.com` and its subdomains (Django's form) | host only |
/// | `*` | every origin, `null` included (Channels' `AllowedOriginValidator(["*"])`) | nothing |
///
/// Host names compare ASCII case-insensitively.
///
/// ```
/// use channels_runtime::ServerConfig;
/// use channels_runtime::server::OriginPattern;
///
/// # fn main() -> Result<(), channels_runtime::server::OriginError> {
/// let config = ServerConfig::default()
///     .allowed_origin("https://app.example.com".parse()?)
///     .allowed_origin("https://*.example.com".parse()?);
/// assert_eq!(config.allowed_origins.len(), 2);
///
/// let pattern: OriginPattern = "https://*.example.com".parse()?;
/// assert!(pattern.matches("https://chat.example.com"));
/// assert!(!pattern.matches("https://example.com"));
/// assert!(!pattern.matches("http://chat.example.com"));
/// assert!("ftp//broken".parse::<OriginPattern>().is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    kind: Kind,
    /// What was parsed, for logs and `Display`.
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `*`.
    Any,
    /// `scheme://host[:port]`: scheme, host and (defaulted) port.
    Origin {
        scheme: String,
        host: HostPattern,
        port: Option<u16>,
    },
    /// A host alone: any scheme, any port.
    Host(HostPattern),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// This host exactly.
    Exact(String),
    /// `*.example.com`: a subdomain of `example.com`, not `example.com` itself.
    Subdomains(String),
    /// `.example.com`: `example.com` or a subdomain (Django's `is_same_domain`).
    DomainAndSubdomains(String),
}

/// Why an origin pattern could not be parsed (for example from an `--allowed-origin` flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid origin pattern {pattern:?}: {reason}")]
pub struct OriginError {
    /// The text that was given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl OriginPattern {
    /// The pattern `*`: every origin passes (Channels' `AllowedOriginValidator(["*"])`). Only for servers
    /// whose sockets carry no user's authority (public data), or that check something else (a token).
    pub fn any() -> Self {
        OriginPattern {
            kind: Kind::Any,
            text: "*".to_owned(),
        }
    }

    /// Whether the browser origin `origin` (an `Origin` header's value) matches this pattern.
    pub fn matches(&self, origin: &str) -> bool {
        if self.kind == Kind::Any {
            return true;
        }
        Origin::parse(origin).is_some_and(|origin| self.matches_origin(&origin))
    }

    fn matches_origin(&self, origin: &Origin<'_>) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Origin { scheme, host, port } => {
                origin.scheme.eq_ignore_ascii_case(scheme)
                    && origin.port == *port
                    && host.matches(origin.host)
            }
            Kind::Host(host) => host.matches(origin.host),
        }
    }
}

impl HostPattern {
    fn parse(host: &str) -> Option<Self> {
        let host = host.to_ascii_lowercase();
        let (make, name): (fn(String) -> HostPattern, &str) =
            if let Some(rest) = host.strip_prefix("*.") {
                (HostPattern::Subdomains, rest)
            } else if let Some(rest) = host.strip_prefix('.') {
                (HostPattern::DomainAndSubdomains, rest)
            } else {
                (HostPattern::Exact, &host)
            };
        valid_host(name).then(|| make(name.to_owned()))
    }

    fn matches(&self, host: &str) -> bool {
        let subdomain_of = |domain: &str| {
            host.len() > domain.len() + 1
                && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        };
        match self {
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name),
            HostPattern::Subdomains(domain) => subdomain_of(domain),
            HostPattern::DomainAndSubdomains(domain) => {
                host.eq_ignore_ascii_case(domain) || subdomain_of(domain)
            }
        }
    }
}

impl FromStr for OriginPattern {
    type Err = OriginError;

    /// Parses one of the forms in the table of [`OriginPattern`].
    fn from_str(text: &str) -> Result<Self, OriginError> {
        let error = |reason| OriginError {
            pattern: text.to_owned(),
            reason,
        };
        let trimmed = text.trim().trim_end_matches('/');
        let kind = if trimmed == "*" {
            Kind::Any
        } else if let Some((scheme, authority)) = trimmed.split_once("://") {
            if !valid_scheme(scheme) {
                return Err(error("the scheme must be letters, digits, `+`, `-` or `.`"));
            }
            let (host, port) =
                split_port(authority).ok_or(error("the port must be a number from 0 to 65535"))?;
            let host = HostPattern::parse(host).ok_or(error(
                "expected `scheme://host[:port]`, the host a name, an IPv4 address or a bracketed \
                 IPv6 address, optionally starting with `*.`",
            ))?;
            let scheme = scheme.to_ascii_lowercase();
            let port = port.or_else(|| default_port(&scheme));
            Kind::Origin { scheme, host, port }
        } else {
            if trimmed.contains(['/', ':']) && !trimmed.starts_with('[') {
                return Err(error(
                    "expected `scheme://host[:port]`, a host name, `*.host`, `.host` or `*`",
                ));
            }
            Kind::Host(HostPattern::parse(trimmed).ok_or(error(
                "expected `scheme://host[:port]`, a host name, `*.host`, `.host` or `*`",
            ))?)
        };
        Ok(OriginPattern {
            kind,
            text: trimmed.to_owned(),
        })
    }
}

impl TryFrom<&str> for OriginPattern {
    type Error = OriginError;

    fn try_from(text: &str) -> Result<Self, OriginError> {
        text.parse()
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A browser origin as an `Origin` header carries it (RFC 6454: `scheme "://" host [ ":" port ]`), its
/// port defaulted from the scheme.
#[derive(Debug, PartialEq)]
struct Origin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl<'a> Origin<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let (scheme, authority) = text.split_once("://")?;
        if !valid_scheme(scheme) {
            return None;
        }
        let (host, port) = split_port(authority)?;
        if !valid_host(host) {
            return None;
        }
        let port = port.or_else(|| default_port(&scheme.to_ascii_lowercase()));
        Some(Origin { scheme, host, port })
    }
}

/// Why a handshake's `Origin` was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// More than one `Origin` header.
    Several,
    /// The value is not ASCII text.
    NotText,
    /// `Origin: null`, or a value that is not an origin.
    NotAnOrigin,
    /// A well-formed origin that is neither the host asked for nor allowed.
    NotAllowed,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Several => "more than one Origin header",
            Refused::NotText => "the Origin header is not text",
            Refused::NotAnOrigin => "the Origin header is not an origin (or is `null`)",
            Refused::NotAllowed => "the origin is not this host and not in allowed_origins",
        })
    }
}

/// Checks a handshake's `Origin` headers against the `Host` it was sent to and `allowed`; see the
/// module's docs for the rule.
pub(crate) fn check(
    origins: &[&[u8]],
    host: Option<&str>,
    allowed: &[OriginPattern],
) -> Result<(), Refused> {
    let origin = match origins {
        [] => return Ok(()),
        [one] => *one,
        _ => return Err(Refused::Several),
    };
    if allowed.iter().any(|pattern| pattern.kind == Kind::Any) {
        return Ok(());
    }
    let origin = std::str::from_utf8(origin)
        .ok()
        .filter(|o| o.is_ascii())
        .ok_or(Refused::NotText)?;
    let origin = Origin::parse(origin.trim()).ok_or(Refused::NotAnOrigin)?;
    if host.is_some_and(|host| same_host(&origin, host))
        || allowed
            .iter()
            .any(|pattern| pattern.matches_origin(&origin))
    {
        Ok(())
    } else {
        Err(Refused::NotAllowed)
    }
}

/// Whether `origin` names the host and port of the `Host` header `host` (its port defaulted from the
/// origin's scheme).
fn same_host(origin: &Origin<'_>, host: &str) -> bool {
    let Some((name, port)) = split_port(host.trim()) else {
        return false;
    };
    let port = port.or(origin.port);
    name.eq_ignore_ascii_case(origin.host) && port == origin.port
}

/// `host[:port]` split, the port parsed; `None` when a port is there and is not a number. An IPv6 host
/// keeps its brackets.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let colon = if authority.starts_with('[') {
        let close = authority.find(']')?;
        match &authority[close + 1..] {
            "" => return Some((authority, None)),
            rest if rest.starts_with(':') => close + 1,
            _ => return None,
        }
    } else {
        match authority.rfind(':') {
            Some(colon) => colon,
            None => return Some((authority, None)),
        }
    };
    let port = &authority[colon + 1..];
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&authority[..colon], Some(port.parse().ok()?)))
}

/// RFC 3986's scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn valid_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A host as browsers serialise it: a name (letters, digits, `-`, `.`, `_`; punycode for international
/// names), an IPv4 address, or an IPv6 address in brackets.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// The port a browser leaves out of an origin for `scheme`.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> OriginPattern {
        text.parse().expect(text)
    }

    fn passes(origin: &str, host: &str, allowed: &[&str]) -> bool {
        let allowed: Vec<OriginPattern> = allowed.iter().map(|p| pattern(p)).collect();
        check(&[origin.as_bytes()], Some(host), &allowed).is_ok()
    }

    #[test]
    fn the_same_host_passes_with_ports_as_browsers_send_them() {
        assert!(passes("http://127.0.0.1:8000", "127.0.0.1:8000", &[]));
        assert!(passes("https://example.com", "example.com", &[]));
        assert!(passes("https://example.com", "example.com:443", &[]));
        assert!(passes("http://example.com", "example.com:80", &[]));
        assert!(passes("HTTPS://Example.COM", "example.com", &[]));
        assert!(passes("http://[::1]:8000", "[::1]:8000", &[]));
        // Another port, another host, a suffix trick, a port that is the other scheme's default.
        assert!(!passes("http://127.0.0.1:3000", "127.0.0.1:8000", &[]));
        assert!(!passes("https://evil.com", "example.com", &[]));
        assert!(!passes("https://example.com.evil.com", "example.com", &[]));
        assert!(!passes("http://example.com", "example.com:443", &[]));
        assert!(!passes("null", "example.com", &[]));
        assert!(!passes("https://example.com/path", "example.com", &[]));
    }

    #[test]
    fn no_origin_passes_and_several_do_not() {
        assert_eq!(check(&[], Some("example.com"), &[]), Ok(()));
        assert_eq!(check(&[], None, &[]), Ok(()));
        assert_eq!(
            check(&[b"https://a", b"https://a"], Some("a"), &[]),
            Err(Refused::Several)
        );
        assert_eq!(
            check(&[b"https://a"], None, &[]),
            Err(Refused::NotAllowed),
            "no Host: only the allowed list can pass it"
        );
        assert_eq!(
            check(&["https://é".as_bytes()], Some("a"), &[]),
            Err(Refused::NotText)
        );
    }

    #[test]
    fn exact_patterns_compare_scheme_host_and_port() {
        let allowed = ["https://app.example.com", "http://localhost:3000"];
        assert!(passes(
            "https://app.example.com",
            "api.example.com",
            &allowed
        ));
        assert!(passes(
            "https://app.example.com:443",
            "api.example.com",
            &allowed
        ));
        assert!(passes("http://localhost:3000", "localhost:8000", &allowed));
        assert!(!passes(
            "http://app.example.com",
            "api.example.com",
            &allowed
        ));
        assert!(!passes(
            "https://app.example.com:8443",
            "api.example.com",
            &allowed
        ));
        assert!(!passes("http://localhost:3001", "localhost:8000", &allowed));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let allowed = ["https://*.example.com"];
        assert!(passes(
            "https://chat.example.com",
            "api.other.com",
            &allowed
        ));
        assert!(passes("https://a.b.example.com", "api.other.com", &allowed));
        assert!(!passes("https://example.com", "api.other.com", &allowed));
        assert!(!passes("https://badexample.com", "api.other.com", &allowed));
        assert!(!passes(
            "http://chat.example.com",
            "api.other.com",
            &allowed
        ));
        // Django's forms: host only, any scheme and port.
        assert!(passes("http://x.example.com:81", "h", &["*.example.com"]));
        assert!(passes("http://example.com:81", "h", &[".example.com"]));
        assert!(passes("http://x.example.com", "h", &[".example.com"]));
        assert!(passes("https://example.com:9", "h", &["example.com"]));
        assert!(!passes("https://x.example.com", "h", &["example.com"]));
        // Any.
        assert!(passes("null", "h", &["*"]));
        assert!(passes("https://anything", "h", &["*"]));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in [
            "",
            "https://",
            "https://a:b",
            "https://a:99999",
            "1http://a",
            "https://a.*.com",
            "https://*",
            "a/b",
            "https://a/b",
            "https://[zz]",
        ] {
            assert!(bad.parse::<OriginPattern>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(pattern("https://a.com/").to_string(), "https://a.com");
        assert_eq!(
            pattern("http://[::1]:8000").to_string(),
            "http://[::1]:8000"
        );
    }
}
