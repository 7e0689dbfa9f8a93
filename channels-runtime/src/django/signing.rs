//! `django.core.signing` as Django 3.1+ writes it (HMAC-SHA256): `salted_hmac`, the base62 timestamp,
//! url-safe base64 without padding, the optional zlib payload (a leading `.`), the JSON serializer, and
//! `SECRET_KEY_FALLBACKS`. It reads whatever `signing.dumps` makes, and what it writes `signing.loads`
//! reads (byte for byte the same as Django's when uncompressed and the keys are in sorted order).
//!
//! ```
//! use channels_runtime::django::signing::TimestampSigner;
//! use serde_json::json;
//! let signer = TimestampSigner::new("secret", "django.contrib.sessions.backends.signed_cookies");
//! let signed = signer.sign_object_at(&json!({"_auth_user_id": "1"}), true, 1_700_000_000);
//! let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_010);
//! assert_eq!(signer.unsign_object_at(&signed, None, now).unwrap(), json!({"_auth_user_id": "1"}));
//! ```

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::SigningError;

type HmacSha256 = Hmac<Sha256>;

/// The most a compressed payload may inflate to: Django has no limit (the signature is checked first,
/// so only a holder of `SECRET_KEY` can make one), this is a guard against a huge session all the same.
pub const MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// `django.utils.crypto.salted_hmac(key_salt, value, secret, algorithm="sha256")`, ready to be fed or
/// verified: the HMAC key is `sha256(key_salt + secret)`.
pub fn salted_hmac(key_salt: &str, value: &[u8], secret: &[u8]) -> HmacSha256 {
    let key = Sha256::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret)
        .finalize();
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(value);
    mac
}

/// `salted_hmac(...).hexdigest()`, as Django's session auth hash is written.
pub fn salted_hmac_hex(key_salt: &str, value: &[u8], secret: &[u8]) -> String {
    let digest = salted_hmac(key_salt, value, secret).finalize().into_bytes();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `hex` is the lowercase hex of `salted_hmac(key_salt, value, secret)`, compared in constant
/// time (Django's `constant_time_compare`).
pub fn verify_salted_hmac_hex(key_salt: &str, value: &[u8], secret: &[u8], hex: &str) -> bool {
    match decode_hex(hex) {
        Some(bytes) => salted_hmac(key_salt, value, secret)
            .verify_slice(&bytes)
            .is_ok(),
        None => false,
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    // Django's hexdigest is lowercase; anything else never matches it.
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `signing.b62_encode`: the timestamp's spelling.
pub fn b62_encode(value: i64) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    let mut rest = value.unsigned_abs();
    let mut digits = Vec::new();
    while rest > 0 {
        digits.push(BASE62[(rest % 62) as usize]);
        rest /= 62;
    }
    if value < 0 {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).expect("base62 digits are ASCII")
}

/// `signing.b62_decode`; `None` for a character outside the alphabet or an overflow.
pub fn b62_decode(text: &str) -> Option<i64> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for byte in digits.bytes() {
        let digit = BASE62.iter().position(|&c| c == byte)? as i64;
        value = value.checked_mul(62)?.checked_add(digit)?;
    }
    Some(sign * value)
}

/// Django's `TimestampSigner` with `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and a salt: `value:timestamp:signature`
/// where the signature is `b64(salted_hmac(salt + "signer", "value:timestamp", key))`.
#[derive(Clone)]
pub struct TimestampSigner {
    /// `SECRET_KEY` first, then `SECRET_KEY_FALLBACKS`.
    keys: Vec<Vec<u8>>,
    /// `salt + "signer"`: the `key_salt` of every signature.
    key_salt: String,
}

impl std::fmt::Debug for TimestampSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.debug_struct("TimestampSigner")
            .field("keys", &self.keys.len())
            .field("key_salt", &self.key_salt)
            .finish()
    }
}

impl TimestampSigner {
    /// A signer with `SECRET_KEY` = `key` and the namespace `salt` (`signing.dumps(salt=...)`).
    pub fn new(key: impl AsRef<[u8]>, salt: &str) -> TimestampSigner {
        TimestampSigner {
            keys: vec![key.as_ref().to_vec()],
            key_salt: format!("{salt}signer"),
        }
    }

    /// Also accepts values signed with these older keys (Django's `SECRET_KEY_FALLBACKS`, tried in order
    /// after `SECRET_KEY`); new values are always signed with `SECRET_KEY`.
    pub fn with_fallback_keys<K: AsRef<[u8]>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.keys
            .extend(keys.into_iter().map(|key| key.as_ref().to_vec()));
        self
    }

    /// `Signer.signature(value)`: the url-safe base64 of the HMAC with `SECRET_KEY`.
    pub fn signature(&self, value: &str) -> String {
        let mac = salted_hmac(&self.key_salt, value.as_bytes(), &self.keys[0]);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// `TimestampSigner.sign(value)` as if `time.time()` were `timestamp`.
    pub fn sign_at(&self, value: &str, timestamp: i64) -> String {
        let stamped = format!("{value}:{}", b62_encode(timestamp));
        let signature = self.signature(&stamped);
        format!("{stamped}:{signature}")
    }

    /// `TimestampSigner.unsign(signed, max_age)` as of `now`: the value, once the signature matches a key
    /// and (with `max_age`) the timestamp is recent enough.
    pub fn unsign_at<'a>(
        &self,
        signed: &'a str,
        max_age: Option<Duration>,
        now: SystemTime,
    ) -> Result<&'a str, SigningError> {
        let (stamped, signature) = signed
            .rsplit_once(':')
            .ok_or(SigningError::Malformed("no ':' found"))?;
        // Django compares base64 texts; comparing the decoded bytes is the same test (the encoding is
        // canonical without padding) and lets the HMAC crate compare in constant time.
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SigningError::BadSignature)?;
        let matches = self.keys.iter().any(|key| {
            salted_hmac(&self.key_salt, stamped.as_bytes(), key)
                .verify_slice(&signature)
                .is_ok()
        });
        if !matches {
            return Err(SigningError::BadSignature);
        }
        let (value, timestamp) = stamped
            .rsplit_once(':')
            .ok_or(SigningError::Malformed("no timestamp"))?;
        let timestamp = b62_decode(timestamp).ok_or(SigningError::Malformed("bad timestamp"))?;
        if let Some(max_age) = max_age {
            let now = match now.duration_since(UNIX_EPOCH) {
                Ok(since) => since.as_secs_f64(),
                Err(before) => -before.duration().as_secs_f64(),
            };
            let age_secs = now - timestamp as f64;
            if age_secs > max_age.as_secs_f64() {
                return Err(SigningError::Expired { age_secs, max_age });
            }
        }
        Ok(value)
    }

    /// `sign_object(obj, compress=...)` as if `time.time()` were `timestamp`: compact JSON (ASCII, as
    /// Python's `json.dumps` writes it), zlib when that saves more than one byte, url-safe base64.
    pub fn sign_object_at(&self, obj: &Value, compress: bool, timestamp: i64) -> String {
        let data = python_json(obj);
        let mut payload = URL_SAFE_NO_PAD.encode(&data);
        if compress {
            let compressed = zlib(&data);
            if compressed.len() < data.len().saturating_sub(1) {
                payload = format!(".{}", URL_SAFE_NO_PAD.encode(compressed));
            }
        }
        self.sign_at(&payload, timestamp)
    }

    /// `signing.loads(signed, salt, max_age)` as of `now`.
    pub fn unsign_object_at(
        &self,
        signed: &str,
        max_age: Option<Duration>,
        now: SystemTime,
    ) -> Result<Value, SigningError> {
        let payload = self.unsign_at(signed, max_age, now)?;
        let (compressed, payload) = match payload.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, payload),
        };
        let mut data = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(SigningError::Base64)?;
        if compressed {
            data = inflate(&data)?;
        }
        // JSONSerializer.loads: latin-1 bytes to text (one char per byte), then json.loads.
        let text: String = data.iter().map(|&byte| char::from(byte)).collect();
        serde_json::from_str(&text).map_err(SigningError::Json)
    }

    /// [`unsign_object_at`](Self::unsign_object_at) now.
    pub fn unsign_object(
        &self,
        signed: &str,
        max_age: Option<Duration>,
    ) -> Result<Value, SigningError> {
        self.unsign_object_at(signed, max_age, SystemTime::now())
    }
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .expect("writing to a Vec never fails")
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, SigningError> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(SigningError::Zlib)?;
    if out.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(SigningError::Zlib(std::io::Error::other(
            "payload inflates past MAX_PAYLOAD_BYTES",
        )));
    }
    Ok(out)
}

/// `json.dumps(obj, separators=(",", ":"))`: compact, with every non-ASCII character escaped as Python's
/// default `ensure_ascii=True` does (surrogate pairs above the BMP).
fn python_json(obj: &Value) -> Vec<u8> {
    let compact = serde_json::to_string(obj).expect("a JSON value always serializes");
    let mut out = String::with_capacity(compact.len());
    for ch in compact.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.into_bytes()
}
