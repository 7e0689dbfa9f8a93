//! channels_redis's key names and its consistent hash over `hosts`.
//!
//! - A normal channel `jobs` is the sorted set `<prefix>jobs` (no separator: channels_redis concatenates).
//! - A process-local channel `specific.<client>!<id>` shares its process's key `<prefix>specific.<client>!`
//!   (the name up to and including `!`), with the full name in each message's `__asgi_channel__`.
//! - A group is the sorted set `<prefix>:group:<name>`, member -> join time.
//! - A channel session is the string `<prefix>:session:<reply channel>` (JSON), expiring.
//! - A receive in progress keeps its message in `<channel key>$inflight` until it is handed over.
//! - With several hosts, a key lives on host `crc32(name) & 0xFFF` scaled to the ring, computed on the
//!   group name or on the non-local part of a channel name.

/// The part of a channel name up to and including `!` (the whole name for a normal channel): Channels'
/// `non_local_name`.
pub(super) fn non_local_name(channel: &str) -> &str {
    match channel.find('!') {
        Some(bang) => &channel[..=bang],
        None => channel,
    }
}

/// The sorted set that holds messages for `channel`.
pub(super) fn channel_key(prefix: &str, channel: &str) -> String {
    let name = non_local_name(channel);
    let mut key = String::with_capacity(prefix.len() + name.len());
    key.push_str(prefix);
    key.push_str(name);
    key
}

/// The sorted set of a group's members.
pub(super) fn group_key(prefix: &str, group: &str) -> String {
    format!("{prefix}:group:{group}")
}

/// The string that holds the channel session of `channel` (a reply channel), as JSON.
pub(super) fn session_key(prefix: &str, channel: &str) -> String {
    format!("{prefix}:session:{channel}")
}

/// The sorted set where a receive keeps the message it popped until it has handed it over.
pub(super) fn inflight_key(channel_key: &str) -> String {
    format!("{channel_key}$inflight")
}

/// The host index of `name` among `hosts` hosts: channels_redis's `_consistent_hash`, to the bit (the
/// same float arithmetic), so both agree on where every key lives.
pub(super) fn consistent_hash(name: &str, hosts: usize) -> usize {
    if hosts <= 1 {
        return 0;
    }
    let bigval = crc32(name.as_bytes()) & 0xFFF;
    let ring_divisor = 4096.0 / hosts as f64;
    // Truncation is Python's int(); the result is below `hosts` since bigval < 4096.
    ((f64::from(bigval) / ring_divisor) as usize).min(hosts - 1)
}

/// CRC-32 (IEEE 802.3, as zlib and Python's `binascii.crc32`).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_channels_redis_builds_them() {
        assert_eq!(channel_key("asgi", "jobs"), "asgijobs");
        assert_eq!(channel_key("asgi", "specific.abc!def"), "asgispecific.abc!");
        assert_eq!(group_key("asgi", "chat"), "asgi:group:chat");
        assert_eq!(inflight_key("asgijobs"), "asgijobs$inflight");
        assert_eq!(
            session_key("asgi", "specific.abc!def"),
            "asgi:session:specific.abc!def"
        );
        assert_eq!(non_local_name("jobs"), "jobs");
        assert_eq!(non_local_name("a!b!c"), "a!");
    }

    #[test]
    fn crc32_is_binascii_crc32() {
        // Python: binascii.crc32(v.encode())
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"chat"), 1_704_850_090);
        assert_eq!(crc32(b"specific.abc!"), 4_124_610_115);
        assert_eq!(crc32(b"thumbnails.generate"), 1_138_903_768);
    }

    #[test]
    fn consistent_hash_agrees_with_channels_redis() {
        // Python: [channels_redis.utils._consistent_hash(v, n) for n in (1, 2, 3, 5, 7)]
        let cases: [(&str, [usize; 5]); 7] = [
            ("chat", [0, 0, 0, 0, 1]),
            ("specific.abc!", [0, 1, 2, 4, 6]),
            ("specific.0123456789abcdef!xyz", [0, 1, 1, 3, 4]),
            ("asgi", [0, 1, 2, 4, 6]),
            ("room_42", [0, 0, 1, 2, 3]),
            ("thumbnails.generate", [0, 1, 2, 3, 4]),
            ("", [0, 0, 0, 0, 0]),
        ];
        for (name, expected) in cases {
            let got = [1, 2, 3, 5, 7].map(|n| consistent_hash(name, n));
            assert_eq!(got, expected, "{name:?}");
        }
    }
}
