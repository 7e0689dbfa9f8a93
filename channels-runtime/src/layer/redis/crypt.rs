//! channels_redis's `symmetric_encryption_keys`: Fernet over the msgpack bytes, the random prefix
//! outside it (`prefix + Fernet(msgpack)`), each key made from its string as
//! `urlsafe_b64encode(sha256(key))`, encrypting with the first key and decrypting with any
//! (`MultiFernet`), a token older than `expiry + 10` s refused.

use base64::Engine as _;
use sha2::Digest as _;

/// The fleet's Fernet keys, in channels_redis's order.
#[derive(Clone)]
pub(super) struct Crypter {
    fernets: Vec<fernet::Fernet>,
    ttl_secs: u64,
}

impl std::fmt::Debug for Crypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypter")
            .field("keys", &self.fernets.len())
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl Crypter {
    /// The keys as channels_redis's `make_fernet` derives them; `None` without keys (no encryption).
    /// `expiry_secs` is the layer's expiry: tokens older than it plus 10 s are refused, as there.
    pub(super) fn new(keys: &[String], expiry_secs: u64) -> Option<Self> {
        let fernets: Vec<fernet::Fernet> = keys
            .iter()
            .filter_map(|key| {
                let digest = sha2::Sha256::digest(key.as_bytes());
                let formatted = base64::engine::general_purpose::URL_SAFE.encode(digest);
                fernet::Fernet::new(&formatted)
            })
            .collect();
        (!fernets.is_empty()).then(|| Crypter {
            fernets,
            ttl_secs: expiry_secs.saturating_add(10),
        })
    }

    /// A Fernet token (URL-safe base64 text, as bytes) of `plain`, with the first key.
    pub(super) fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        self.fernets[0].encrypt(plain).into_bytes()
    }

    /// The plain bytes of `token`, with the first key that opens it; `None` if none does (a wrong
    /// key, a tampered or expired token, or not a token at all).
    pub(super) fn decrypt(&self, token: &[u8]) -> Option<Vec<u8>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.decrypt_at(token, now)
    }

    /// [`Crypter::decrypt`] at `now` (Unix seconds). The age check is done here, with saturating
    /// arithmetic, rather than by the `fernet` crate, whose `timestamp + ttl` overflows on a token
    /// claiming a time near `u64::MAX`.
    pub(super) fn decrypt_at(&self, token: &[u8], now: u64) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(token).ok()?;
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(token)
            .ok()?;
        let timestamp = u64::from_be_bytes(raw.get(1..9)?.try_into().ok()?);
        if timestamp.saturating_add(self.ttl_secs) < now {
            return None;
        }
        self.fernets
            .iter()
            .find_map(|fernet| fernet.decrypt(text).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by channels_redis 4.x in target/interop-venv:
    /// `MsgPackSerializer(symmetric_encryption_keys=["secret"], random_prefix_length=12, expiry=60)
    /// .serialize({"type": "chat.message", "text": "hello"})`, random prefix included.
    const FROM_CHANNELS_REDIS: &[u8] = b"\x17\xe4\xf4\xa9\x8ax\xcd\xac.)j\xcdgAAAAABrDC76Z3uOdifKYIJQexK0p-9kr27l4CfoY_uPu7PEufQJ03mFC5g-S4YIjD9xDEDlXz4ZP4mlKSfCFDDpOpn4SSZZAotsVP6zdHWsH5cB28RRer4=";
    /// The time that vector was made at (its Fernet timestamp), Unix seconds.
    const MADE_AT: u64 = 1795960570;

    fn keys(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn a_channels_redis_token_decrypts() {
        let crypter = Crypter::new(&keys(&["other", "secret"]), 60).unwrap();
        let plain = crypter
            .decrypt_at(&FROM_CHANNELS_REDIS[12..], MADE_AT + 5)
            .unwrap();
        // msgpack.packb({"type": "chat.message", "text": "hello"})
        assert_eq!(plain, b"\x82\xa4type\xacchat.message\xa4text\xa5hello");
    }

    #[test]
    fn a_wrong_key_an_old_token_or_a_tampered_one_does_not() {
        let token = &FROM_CHANNELS_REDIS[12..];
        let wrong = Crypter::new(&keys(&["not the secret"]), 60).unwrap();
        assert_eq!(wrong.decrypt_at(token, MADE_AT), None);
        let right = Crypter::new(&keys(&["secret"]), 60).unwrap();
        assert_eq!(
            right.decrypt_at(token, MADE_AT + 71),
            None,
            "older than expiry + 10 s"
        );
        assert!(right.decrypt_at(token, MADE_AT + 70).is_some());
        let mut tampered = token.to_vec();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(right.decrypt_at(&tampered, MADE_AT), None);
        assert_eq!(
            right.decrypt_at(b"\x82\xa4type", MADE_AT),
            None,
            "not a token"
        );
    }

    #[test]
    fn a_timestamp_near_the_end_of_time_is_refused_without_overflow() {
        let mut raw = vec![0x80];
        raw.extend_from_slice(&u64::MAX.to_be_bytes());
        raw.extend_from_slice(&[0; 16 + 16 + 32]);
        let token = base64::engine::general_purpose::URL_SAFE.encode(raw);
        let crypter = Crypter::new(&keys(&["secret"]), 60).unwrap();
        assert_eq!(crypter.decrypt(token.as_bytes()), None);
    }

    #[test]
    fn the_codec_decodes_channels_redis_frames_and_refuses_other_keys() {
        use super::super::codec::{Codec, CodecError, Target};
        use crate::layer::LayerMessage;
        let codec = Codec::new(12).with_keys(&keys(&["secret"]), u64::MAX);
        let decoded = codec.decode(FROM_CHANNELS_REDIS, false).unwrap();
        let expected =
            LayerMessage::json(serde_json::json!({"type": "chat.message", "text": "hello"}));
        assert_eq!(decoded.messages, vec![expected.clone().unwrap()]);

        let framed = codec.frame(&Codec::body(&expected.unwrap()), Target::Key);
        assert_eq!(&framed[12..18], b"gAAAAA", "prefix outside the token");
        let other = Codec::new(12).with_keys(&keys(&["other"]), 60);
        assert_eq!(other.decode(&framed, false), Err(CodecError::Decrypt));
        let plain = Codec::new(12);
        assert!(
            plain.decode(&framed, false).is_err(),
            "a token is not msgpack"
        );
    }

    #[test]
    fn round_trip_with_key_rotation() {
        let old = Crypter::new(&keys(&["old"]), 60).unwrap();
        let rotated = Crypter::new(&keys(&["new", "old"]), 60).unwrap();
        let token = old.encrypt(b"payload");
        assert_eq!(rotated.decrypt(&token).as_deref(), Some(&b"payload"[..]));
        let token = rotated.encrypt(b"payload");
        assert_eq!(old.decrypt(&token), None, "sent with the first key");
    }
}
