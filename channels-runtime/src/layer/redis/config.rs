//! [`RedisConfig`]: channels_redis's `RedisChannelLayer` options, with its defaults.

use std::time::Duration;

use crate::layer::LayerConfig;

/// How to reach one Redis of the layer: channels_redis's `hosts` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisHost {
    /// A `redis://[user:password@]host:port/db` (or `redis+unix:///path`) URL, as
    /// channels_redis's `{"address": url}` or `"redis://..."` entries.
    Url(String),
    /// A master found through Redis Sentinel, as channels_redis's
    /// `{"sentinels": [...], "master_name": ...}` entries. The master is looked up again on every
    /// reconnect, so a failover is followed.
    Sentinel {
        /// Sentinel addresses, as URLs (`redis://127.0.0.1:26379`).
        sentinels: Vec<String>,
        /// The monitored master's name (`mymaster`).
        master_name: String,
        /// Database number on the master. Default 0.
        db: i64,
        /// Password of the master, if it has one.
        password: Option<String>,
    },
}

impl RedisHost {
    /// A master found through the given Sentinels (database 0, no password).
    ///
    /// ```
    /// use channels_runtime::layer::{RedisConfig, RedisHost};
    /// let config = RedisConfig::default()
    ///     .hosts([RedisHost::sentinel(["redis://10.0.0.5:26379"], "mymaster")]);
    /// ```
    pub fn sentinel<S: Into<String>>(
        sentinels: impl IntoIterator<Item = S>,
        master_name: impl Into<String>,
    ) -> Self {
        RedisHost::Sentinel {
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            master_name: master_name.into(),
            db: 0,
            password: None,
        }
    }
}

impl From<&str> for RedisHost {
    fn from(url: &str) -> Self {
        RedisHost::Url(url.to_owned())
    }
}

impl From<String> for RedisHost {
    fn from(url: String) -> Self {
        RedisHost::Url(url)
    }
}

/// Options of a [`RedisLayer`](super::RedisLayer), named and defaulted as channels_redis's
/// `RedisChannelLayer` (`CHANNEL_LAYERS["default"]["CONFIG"]`), so that the defaults join a Django
/// deployment whose config is the default one.
///
/// Every process of a fleet, Rust or Python, must agree on `hosts` (same order), `prefix`,
/// `random_prefix_length`, and the encryption keys if any. `capacity`, `channel_capacity`, the expiries
/// and `send_timeout` are each sender's own.
///
/// ```
/// use std::time::Duration;
/// use channels_runtime::layer::RedisConfig;
/// // CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
/// //     "CONFIG": {"hosts": [...two...], "capacity": 1500, "channel_capacity": {"http.request": 200}}}}
/// let config = RedisConfig::default()
///     .hosts(["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"])
///     .capacity(1500)
///     .channel_capacity("http.request", 200)
///     .send_timeout(Duration::from_secs(2));
/// assert_eq!(config.prefix, "asgi");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The Redis servers. Several shard the keys with channels_redis's consistent hash. Default
    /// `redis://localhost:6379` (channels_redis's default).
    pub hosts: Vec<RedisHost>,
    /// Prefix of every key. Default `asgi`.
    pub prefix: String,
    /// Capacity, expiry and group expiry. Defaults 100, 60 s, 86 400 s (channels_redis's and
    /// Channels'). Redis keeps times in whole seconds: sub-second parts are rounded up.
    pub limits: LayerConfig,
    /// Per-channel capacities: `(glob, capacity)`, the first match wins (channels_redis's
    /// `channel_capacity`, fnmatch patterns such as `http.response!*`). Default none.
    pub channel_capacity: Vec<(String, usize)>,
    /// Random bytes before each stored message, which keep equal messages apart in a sorted set.
    /// Default 12; must be the fleet's value.
    pub random_prefix_length: usize,
    /// How long a `send`, `group_send`, `group_add` or `group_discard` waits for Redis (to reconnect,
    /// then to answer) before failing with [`LayerError::Unavailable`](crate::layer::LayerError). Redis
    /// refuses a send that reaches it after this deadline, so a send reported as failed is never
    /// delivered later. Default 5 s. (Not a channels_redis option.)
    pub send_timeout: Duration,
    /// channels_redis's `symmetric_encryption_keys`: when set, every message is encrypted with
    /// Fernet under the first key and read with any of them. Set with
    /// [`RedisConfig::symmetric_encryption_keys`]; never printed by `Debug`. Default none.
    pub symmetric_encryption_keys: EncryptionKeys,
}

/// The secrets of [`RedisConfig::symmetric_encryption_keys`]: kept out of `Debug` output (and so out of
/// logs).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionKeys(pub(super) Vec<String>);

impl EncryptionKeys {
    /// How many keys there are (0: messages travel unencrypted).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (messages travel unencrypted).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKeys({} redacted)", self.0.len())
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            hosts: vec![RedisHost::Url("redis://localhost:6379".into())],
            prefix: "asgi".into(),
            limits: LayerConfig::default(),
            channel_capacity: Vec::new(),
            random_prefix_length: 12,
            send_timeout: Duration::from_secs(5),
            symmetric_encryption_keys: EncryptionKeys::default(),
        }
    }
}

impl RedisConfig {
    /// The defaults, on the one Redis at `url`.
    ///
    /// ```
    /// use channels_runtime::layer::RedisConfig;
    /// let config = RedisConfig::new("redis://127.0.0.1:6379/0");
    /// assert_eq!(config.limits.capacity, 100);
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig::default().hosts([url.into()])
    }

    /// Sets the `hosts` field: the Redis servers keys are sharded over.
    #[must_use]
    pub fn hosts<H: Into<RedisHost>>(mut self, hosts: impl IntoIterator<Item = H>) -> Self {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the `prefix` field: the prefix of every key.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the `limits` field: capacity, expiry and group expiry at once.
    #[must_use]
    pub fn limits(mut self, limits: LayerConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Sets `limits.capacity`: messages a channel holds before sends fail with `ChannelFull`.
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.limits.capacity = capacity;
        self
    }

    /// Sets `limits.expiry`: how long an unread message stays deliverable.
    #[must_use]
    pub fn expiry(mut self, expiry: Duration) -> Self {
        self.limits.expiry = expiry;
        self
    }

    /// Sets `limits.group_expiry`: how long a membership lasts unless renewed.
    #[must_use]
    pub fn group_expiry(mut self, group_expiry: Duration) -> Self {
        self.limits.group_expiry = group_expiry;
        self
    }

    /// Sets `limits.session_expiry`: how long a channel session lasts after its last save (its key's
    /// TTL).
    #[must_use]
    pub fn session_expiry(mut self, session_expiry: Duration) -> Self {
        self.limits.session_expiry = session_expiry;
        self
    }

    /// Adds a per-channel capacity: channels matching the glob `pattern` (`*`, `?`, `[abc]`, `[!abc]`,
    /// as Python's fnmatch) hold `capacity` messages. Patterns are tried in the order added.
    #[must_use]
    pub fn channel_capacity(mut self, pattern: impl Into<String>, capacity: usize) -> Self {
        self.channel_capacity.push((pattern.into(), capacity));
        self
    }

    /// Sets the `random_prefix_length` field (channels_redis's option of the same name).
    #[must_use]
    pub fn random_prefix_length(mut self, length: usize) -> Self {
        self.random_prefix_length = length;
        self
    }

    /// Encrypts messages as channels_redis's `symmetric_encryption_keys` does: Fernet with a key
    /// derived from each string (`urlsafe_b64encode(sha256(key))`), sending with the first and
    /// reading with any, so keys can be rotated by putting the new one first. Every process of the
    /// fleet needs the same list. A message no key opens is dropped, logged and counted in
    /// [`RedisStats::undecryptable`](crate::layer::RedisStats::undecryptable).
    ///
    /// ```
    /// use channels_runtime::layer::RedisConfig;
    /// // "CONFIG": {"hosts": [...], "symmetric_encryption_keys": [SECRET_KEY]}
    /// let config = RedisConfig::new("redis://127.0.0.1:6379/0")
    ///     .symmetric_encryption_keys(vec!["new secret".into(), "old secret".into()]);
    /// assert_eq!(config.symmetric_encryption_keys.len(), 2);
    /// ```
    #[must_use]
    pub fn symmetric_encryption_keys(mut self, keys: Vec<String>) -> Self {
        self.symmetric_encryption_keys = EncryptionKeys(keys);
        self
    }

    /// Sets the `send_timeout` field: how long an operation waits for Redis before failing.
    #[must_use]
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }
}

/// Capacities by channel name, compiled from [`RedisConfig::channel_capacity`].
#[derive(Debug)]
pub(super) struct Capacities {
    default: usize,
    patterns: Vec<(regex::Regex, usize)>,
}

impl Capacities {
    pub(super) fn new(default: usize, patterns: &[(String, usize)]) -> Result<Self, regex::Error> {
        let patterns = patterns
            .iter()
            .map(|(glob, capacity)| Ok((regex::Regex::new(&glob_to_regex(glob))?, *capacity)))
            .collect::<Result<_, regex::Error>>()?;
        Ok(Capacities { default, patterns })
    }

    /// The capacity of `channel` (its full name, as channels_redis's `get_capacity`).
    pub(super) fn of(&self, channel: &str) -> usize {
        self.patterns
            .iter()
            .find(|(pattern, _)| pattern.is_match(channel))
            .map_or(self.default, |(_, capacity)| *capacity)
    }
}

/// Python's `fnmatch.translate`, anchored at both ends: `*` any run, `?` one character, `[...]` a set
/// (`[!...]` negated); a `[` without its `]` is literal.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut set: String = chars[i + 1..j].iter().collect();
                    if let Some(rest) = set.strip_prefix('!') {
                        set = format!("^{rest}");
                    } else if set.starts_with('^') {
                        set = format!("\\{set}");
                    }
                    out.push('[');
                    out.push_str(&set.replace('\\', "\\\\").replace('[', "\\["));
                    out.push(']');
                    i = j;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push_str(")\\z");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_channels_redis_defaults() {
        let config = RedisConfig::default();
        assert_eq!(config.prefix, "asgi");
        assert_eq!(config.limits, LayerConfig::default());
        assert_eq!(config.random_prefix_length, 12);
        assert_eq!(
            config.hosts,
            vec![RedisHost::Url("redis://localhost:6379".into())]
        );
    }

    #[test]
    fn capacities_match_like_fnmatch() {
        let caps = Capacities::new(
            100,
            &[
                ("http.request".into(), 200),
                ("http.response!*".into(), 10),
                ("job?.[!x]*".into(), 7),
                ("odd[".into(), 3),
            ],
        )
        .unwrap();
        assert_eq!(caps.of("http.request"), 200);
        assert_eq!(caps.of("http.requests"), 100);
        assert_eq!(caps.of("http.response!abc"), 10);
        assert_eq!(caps.of("jobs.a1"), 7);
        assert_eq!(caps.of("jobs.x1"), 100);
        assert_eq!(caps.of("odd["), 3);
        assert_eq!(caps.of("other"), 100);
    }
}
