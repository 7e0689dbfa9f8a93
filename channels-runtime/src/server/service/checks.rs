//! What a request must be before anything of the application runs: header hygiene for every request
//! (Daphne's fixes), and an opening handshake as RFC 6455 section 4.2.1 asks.
//!
//! | request | answer |
//! |---|---|
//! | a header value with a control character (other than tab) | **400** (hyper's parser) |
//! | a header name with `_` or `.` | kept out of the scope (logged at debug) |
//! | an upgrade that is not `GET` | **405**, `Allow: GET` |
//! | an upgrade over HTTP/1.0 | **400** |
//! | an upgrade without exactly one `Host` | **400** |
//! | an upgrade without exactly one `Sec-WebSocket-Key` of 16 bytes in base64 | **400** |
//! | an upgrade without `Sec-WebSocket-Version` | **400**, `Sec-WebSocket-Version: 13` |
//! | an upgrade with a version other than 13 | **426**, `Sec-WebSocket-Version: 13` |
//!
//! Control characters need no check here: hyper's parser answers 400 to a request head that holds one
//! (Daphne checks for them itself), and the `http` crate's `HeaderValue` can't hold one, whichever way a
//! request comes (an axum app that mounts the routing included).

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::{Body, plain};
use crate::message::Headers;

/// The headers as the scope holds them: lower-case names, in order, without names that hold `_` or
/// `.`. Django reads headers from `request.META`, where `X-Forwarded-For` and `X_Forwarded_For` are both
/// `HTTP_X_FORWARDED_FOR`: a client could pass one off as the other (CVE-2015-0219), so Daphne drops
/// such names, and so do we, for ports that read headers the same way.
pub(super) fn scope_headers(headers: &HeaderMap) -> Headers {
    let odd = |name: &header::HeaderName| has_underscore_or_dot(name.as_str().as_bytes());
    // Sized once: every idle connection keeps these for its life, in this one allocation.
    let mut bytes = 0;
    let mut dropped = 0usize;
    for (name, value) in headers {
        if odd(name) {
            dropped += 1;
        } else {
            bytes += name.as_str().len() + value.len() + 2;
        }
    }
    let mut scope = Headers::with_capacity(bytes);
    for (name, value) in headers {
        if dropped > 0 && odd(name) {
            continue;
        }
        // UTF-8 checked at once (a word at a time over ASCII), rather than `to_str`'s visible-ASCII
        // check byte by byte: text either way reads the same.
        match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => scope.push_lowercase(name.as_str(), text),
            // Bytes past ASCII (`obs-text`) that are not UTF-8: invalid sequences read as U+FFFD.
            Err(_) => {
                scope.push_lowercase(name.as_str(), &String::from_utf8_lossy(value.as_bytes()))
            }
        }
    }
    // Only a value that is not UTF-8 (its bytes replaced with U+FFFD) can have grown it.
    scope.shrink_to_fit();
    if dropped > 0 {
        tracing::debug!(
            dropped,
            "request headers whose names hold `_` or `.` left out of the scope"
        );
    }
    scope
}

/// Whether `name` holds `_` or `.`: eight bytes at a time (every request's every header name is
/// checked), then the rest one by one.
fn has_underscore_or_dot(name: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `word` is `byte`: one of `word ^ byte…` is then zero, which the classic
    // "has a zero byte" test tells exactly (its false hits only misplace the byte, not invent one).
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    let (words, rest) = name.as_chunks::<8>();
    words.iter().any(|word| {
        let word = u64::from_ne_bytes(*word);
        has(word, b'_') || has(word, b'.')
    }) || rest.iter().any(|&b| b == b'_' || b == b'.')
}

/// The subprotocols a WebSocket client offers (every `Sec-WebSocket-Protocol` header, comma-separated),
/// in its order, without empty or malformed entries.
pub(super) fn subprotocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|name| crate::server::connection::valid_token(name))
        .map(str::to_owned)
        .collect()
}

/// Why an upgrade request is not a WebSocket handshake RFC 6455 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadHandshake {
    /// Not `GET`.
    Method,
    /// HTTP/1.0: hyper can't upgrade such a connection, so accepting would run the connect consumer for
    /// a socket that never opens.
    Http10,
    /// No `Host`, or more than one.
    Host,
    /// No `Sec-WebSocket-Key`, more than one, or one that is not 16 bytes in base64.
    Key,
    /// No `Sec-WebSocket-Version` (or more than one).
    NoVersion,
    /// A `Sec-WebSocket-Version` other than 13.
    Version,
}

impl BadHandshake {
    /// The answer to the client (see the table in the module's docs).
    pub(super) fn response(self) -> Response<Body> {
        let bad_request = |text| plain(StatusCode::BAD_REQUEST, text);
        match self {
            BadHandshake::Method => {
                let mut response = plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Bad WebSocket handshake: the method must be GET",
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET"));
                response
            }
            BadHandshake::Http10 => bad_request("Bad WebSocket handshake: needs HTTP/1.1 or later"),
            BadHandshake::Host => bad_request("Bad WebSocket handshake: needs one Host header"),
            BadHandshake::Key => bad_request(
                "Bad WebSocket handshake: needs one Sec-WebSocket-Key, 16 bytes in base64",
            ),
            BadHandshake::NoVersion => with_version(bad_request(
                "Bad WebSocket handshake: needs Sec-WebSocket-Version: 13",
            )),
            BadHandshake::Version => with_version(plain(
                StatusCode::UPGRADE_REQUIRED,
                "Unsupported WebSocket version: this server speaks version 13",
            )),
        }
    }
}

/// Checks an upgrade request as RFC 6455 section 4.2.1 asks; returns its `Sec-WebSocket-Accept` value.
pub(super) fn handshake<B>(req: &Request<B>) -> Result<String, BadHandshake> {
    if req.method() != Method::GET {
        return Err(BadHandshake::Method);
    }
    if req.version() < Version::HTTP_11 {
        return Err(BadHandshake::Http10);
    }
    let headers = req.headers();
    if headers.get_all(header::HOST).iter().count() != 1 {
        return Err(BadHandshake::Host);
    }
    let key = one(headers, &header::SEC_WEBSOCKET_KEY)
        .filter(|key| is_key(key.as_bytes()))
        .ok_or(BadHandshake::Key)?;
    match one(headers, &header::SEC_WEBSOCKET_VERSION) {
        Some(version) if version.as_bytes().trim_ascii() == b"13" => {}
        Some(_) => return Err(BadHandshake::Version),
        None => return Err(BadHandshake::NoVersion),
    }
    Ok(derive_accept_key(key.as_bytes()))
}

/// The value of header `name` when it appears exactly once.
fn one<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// Tells the client which version to speak (RFC 6455 4.4).
fn with_version(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    response
}

/// Whether `key` is 16 bytes in base64: 22 characters of the base64 alphabet, the last of which
/// carries only 2 bits (so one of `AQgw`), then `==`.
fn is_key(key: &[u8]) -> bool {
    let [digits @ .., b'=', b'='] = key.trim_ascii() else {
        return false;
    };
    digits.len() == 22
        && matches!(digits[21], b'A' | b'Q' | b'g' | b'w')
        && digits.iter().all(|&b| BASE64[usize::from(b)])
}

/// Which bytes are digits of base64 (`A`-`Z`, `a`-`z`, `0`-`9`, `+`, `/`): one load a byte, as every
/// handshake checks 22 of them.
static BASE64: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_16_bytes_of_base64() {
        // RFC 6455's example, and keys the client library makes.
        assert!(is_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_key(b" +/9azAZ09azAZ09azAZ09w== "));
        for _ in 0..100 {
            let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
            assert!(is_key(key.as_bytes()), "{key}");
        }
        for bad in [
            &b""[..],
            b"abc",
            b"dGhlIHNhbXBsZSBub25jZQ=",
            b"dGhlIHNhbXBsZSBub25jZR==",
            b"dGhlIHNhbXBsZSBub25j*Q==",
            b"dGhlIHNhbXBsZSBub25jZQ==AAAA",
            b"AAAAAAAAAAAAAAAAAAAAAAAA",
            b"dGhlIHNhbXBsZSBub25jZQ==\xff",
            b"dGhlIHNhbXBsZSBub25j\xffQ==",
            b"dGhlIHNhbXBsZSBub25j-Q==",
        ] {
            assert!(!is_key(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn underscores_and_dots_are_found_wherever_they_are() {
        let naive = |name: &[u8]| name.iter().any(|&b| b == b'_' || b == b'.');
        let mut name = *b"sec-websocket-extensions-x";
        assert!(!has_underscore_or_dot(&name));
        for at in 0..name.len() {
            for odd in [b'_', b'.'] {
                let kept = name[at];
                name[at] = odd;
                for len in 0..=name.len() {
                    assert_eq!(has_underscore_or_dot(&name[..len]), naive(&name[..len]));
                }
                name[at] = kept;
            }
        }
        // Bytes next to `_` (0x5f) and `.` (0x2e), and high bytes, are not taken for them.
        assert!(!has_underscore_or_dot(b"^`-/^`-/\xff\x80^`-/"));
    }

    #[test]
    fn odd_header_names_stay_out_of_the_scope() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        headers.insert("x_forwarded_for", HeaderValue::from_static("6.6.6.6"));
        headers.insert("x.forwarded.for", HeaderValue::from_static("6.6.6.6"));
        let kept = scope_headers(&headers);
        assert_eq!(
            kept.iter().collect::<Vec<_>>(),
            [("x-forwarded-for", "1.1.1.1")]
        );
    }

    #[test]
    fn scope_headers_keep_order_repeats_and_odd_bytes() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", HeaderValue::from_static("a=1"));
        headers.append("host", HeaderValue::from_static("example.com"));
        headers.append("cookie", HeaderValue::from_static(""));
        headers.append(
            "x-odd",
            HeaderValue::from_bytes(b"caf\xe9").unwrap_or(HeaderValue::from_static("")),
        );
        let kept = scope_headers(&headers);
        assert_eq!(kept.len(), 4);
        assert_eq!(kept.get_all("cookie").collect::<Vec<_>>(), ["a=1", ""]);
        assert_eq!(kept.get("HOST"), Some("example.com"));
        assert_eq!(kept.get("x-odd"), Some("caf\u{FFFD}"));
        assert_eq!(kept.get("missing"), None);
    }

    #[test]
    fn subprotocols_keep_the_client_order() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("chat.v2, chat.v1"),
        );
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(" , token.abc"),
        );
        assert_eq!(subprotocols(&headers), ["chat.v2", "chat.v1", "token.abc"]);
    }
}
