//! [`DjangoSettings`]: the lines of a Django project's `settings.py` that decide who is logged in, under
//! their Django names, so a team copies them across one by one.

use std::str::FromStr;
use std::time::Duration;

use super::error::DjangoError;

/// Django's `SESSION_ENGINE`: where sessions live. The four engines a Django fleet shares with other
/// processes; `file` sessions live on one machine's disk and are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionEngine {
    /// `django.contrib.sessions.backends.db` (Django's default): the `django_session` table.
    #[default]
    Db,
    /// `django.contrib.sessions.backends.cache`: only in the cache (`CACHES`).
    Cache,
    /// `django.contrib.sessions.backends.cached_db`: the cache, then the database on a miss.
    CachedDb,
    /// `django.contrib.sessions.backends.signed_cookies`: the cookie holds the signed session itself.
    SignedCookies,
}

impl SessionEngine {
    /// The dotted path Django's `SESSION_ENGINE` names.
    pub fn dotted_path(self) -> &'static str {
        match self {
            SessionEngine::Db => "django.contrib.sessions.backends.db",
            SessionEngine::Cache => "django.contrib.sessions.backends.cache",
            SessionEngine::CachedDb => "django.contrib.sessions.backends.cached_db",
            SessionEngine::SignedCookies => "django.contrib.sessions.backends.signed_cookies",
        }
    }

    /// The engine's name as [`DjangoUser`](super::DjangoUser) reports it (`db`, `cache`, ...).
    pub fn short_name(self) -> &'static str {
        self.dotted_path()
            .rsplit('.')
            .next()
            .expect("a dotted path has a last part")
    }
}

impl FromStr for SessionEngine {
    type Err = DjangoError;

    /// Parses `SESSION_ENGINE` as written in settings.py (`"django.contrib.sessions.backends.cache"`), or
    /// its last part (`"cache"`).
    fn from_str(value: &str) -> Result<SessionEngine, DjangoError> {
        let name = value
            .strip_prefix("django.contrib.sessions.backends.")
            .unwrap_or(value);
        match name {
            "db" => Ok(SessionEngine::Db),
            "cache" => Ok(SessionEngine::Cache),
            "cached_db" => Ok(SessionEngine::CachedDb),
            "signed_cookies" => Ok(SessionEngine::SignedCookies),
            _ => Err(DjangoError::UnknownEngine(value.to_owned())),
        }
    }
}

/// `CACHES[SESSION_CACHE_ALIAS]` (`"default"` unless set) for the `cache` and `cached_db` engines, when
/// its `BACKEND` is `django.core.cache.backends.redis.RedisCache`. `Debug` hides passwords in the URLs.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// `LOCATION`: one Redis URL, or the list Django accepts (it writes to the first and reads from the
    /// others; this module reads from the first, which always has the newest value).
    pub location: Vec<String>,
    /// `KEY_PREFIX` (default `""`).
    pub key_prefix: String,
    /// `VERSION` (default `1`).
    pub version: i64,
}

impl CacheSettings {
    /// `LOCATION` = `url`, the default `KEY_PREFIX` and `VERSION`.
    pub fn redis(url: impl Into<String>) -> CacheSettings {
        CacheSettings {
            location: vec![url.into()],
            key_prefix: String::new(),
            version: 1,
        }
    }

    /// Django's `default_key_func`: `"<KEY_PREFIX>:<VERSION>:<key>"`.
    pub fn make_key(&self, key: &str) -> String {
        format!("{}:{}:{key}", self.key_prefix, self.version)
    }
}

/// `DATABASES["default"]` when its `ENGINE` is `django.db.backends.postgresql`: where `django_session`
/// and the user table are. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `NAME`.
    pub name: String,
    /// `USER`.
    pub user: String,
    /// `PASSWORD` (empty: none).
    pub password: String,
    /// `HOST` (Django's default, empty, means the local socket; here `127.0.0.1` is used then).
    pub host: String,
    /// `PORT` (default 5432).
    pub port: u16,
}

impl DatabaseSettings {
    /// `NAME` = `name` on `127.0.0.1:5432`, user `postgres`, no password.
    pub fn postgres(name: impl Into<String>) -> DatabaseSettings {
        DatabaseSettings {
            name: name.into(),
            user: "postgres".to_owned(),
            password: String::new(),
            host: "127.0.0.1".to_owned(),
            port: 5432,
        }
    }

    /// From a `postgresql://user:password@host:port/name` URL (what `dj-database-url` reads from
    /// `DATABASE_URL`).
    pub fn from_url(url: &str) -> Result<DatabaseSettings, DjangoError> {
        let config = tokio_postgres::Config::from_str(url).map_err(DjangoError::BadDatabaseUrl)?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        Ok(DatabaseSettings {
            name: config.get_dbname().unwrap_or("postgres").to_owned(),
            user: config.get_user().unwrap_or("postgres").to_owned(),
            password: config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
        })
    }

    pub(crate) fn pg_config(&self, time_zone: &str, timeout: Duration) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        let host = if self.host.is_empty() {
            "127.0.0.1"
        } else {
            &self.host
        };
        config
            .host(host)
            .port(self.port)
            .dbname(&self.name)
            .user(&self.user)
            .connect_timeout(timeout)
            .application_name("channels-django-sessions")
            // Django's connection time zone: naive `expire_date`s (USE_TZ = False) are in it.
            .options(format!("-c TimeZone={time_zone}"));
        if !self.password.is_empty() {
            config.password(&self.password);
        }
        config
    }
}

/// `AUTH_USER_MODEL`'s table, for the session auth hash check (Django's `get_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserModelSettings {
    /// The model's `db_table` (`auth_user` for `django.contrib.auth.models.User`).
    pub db_table: String,
    /// Its primary key column (`id`).
    pub pk_column: String,
}

impl Default for UserModelSettings {
    fn default() -> UserModelSettings {
        UserModelSettings {
            db_table: "auth_user".to_owned(),
            pk_column: "id".to_owned(),
        }
    }
}

/// What a handshake gets when the session backend is down (Redis or PostgreSQL refuses, drops the
/// connection or doesn't answer within [`DjangoSettings::backend_timeout`]). Not a Django setting:
/// Django answers such a request with a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendDown {
    /// Refuse the handshake with HTTP 503 (no consumer runs), and log the error. The default: nobody is
    /// taken for anonymous (or for someone else) because a backend blinked, and clients retry.
    #[default]
    Refuse,
    /// Log the error and go on with an anonymous user (what Django's `cache` backend does when its
    /// cache raises).
    Anonymous,
}

/// The settings.py lines that decide who is logged in, under their Django names. Build it with
/// struct-update syntax and copy the values across:
///
/// ```
/// use channels_runtime::django::{CacheSettings, DatabaseSettings, DjangoSettings, SessionEngine};
/// let settings = DjangoSettings {
///     secret_key: "django-insecure-…".into(),                    // SECRET_KEY
///     session_engine: SessionEngine::CachedDb,                     // SESSION_ENGINE
///     caches: Some(CacheSettings::redis("redis://127.0.0.1:6379")), // CACHES["default"]["LOCATION"]
///     databases: Some(DatabaseSettings::postgres("mysite")),       // DATABASES["default"]
///     ..DjangoSettings::default()
/// };
/// assert_eq!(settings.session_cookie_name, "sessionid");
/// // Logs never show the secrets.
/// assert!(!format!("{settings:?}").contains("django-insecure"));
/// ```
#[derive(Clone)]
pub struct DjangoSettings {
    /// `SECRET_KEY`: signs signed-cookie sessions and `session_data`, and keys the session auth hash.
    pub secret_key: String,
    /// `SECRET_KEY_FALLBACKS`: older keys still accepted (Django 4.1+).
    pub secret_key_fallbacks: Vec<String>,
    /// `SESSION_ENGINE` (default `db`).
    pub session_engine: SessionEngine,
    /// `SESSION_COOKIE_NAME` (default `sessionid`).
    pub session_cookie_name: String,
    /// `SESSION_COOKIE_AGE` (default two weeks): the `max_age` of signed-cookie sessions. The other
    /// engines store their own expiry (the cache's TTL, `expire_date`).
    pub session_cookie_age: Duration,
    /// `CACHES[SESSION_CACHE_ALIAS]`, for the `cache` and `cached_db` engines.
    pub caches: Option<CacheSettings>,
    /// `DATABASES["default"]`: for the `db` and `cached_db` engines, and, with any engine, to check the
    /// session auth hash against the user's password as Django's `get_user` does.
    pub databases: Option<DatabaseSettings>,
    /// `AUTHENTICATION_BACKENDS`: a session logged in through another backend is anonymous, as in Django.
    pub authentication_backends: Vec<String>,
    /// `AUTH_USER_MODEL`'s table and primary key.
    pub auth_user_model: UserModelSettings,
    /// `USE_TZ` (default `True`): whether `expire_date` is a `timestamptz`.
    pub use_tz: bool,
    /// `TIME_ZONE` (default `America/Chicago`): the zone of naive `expire_date`s when `USE_TZ = False`.
    pub time_zone: String,
    /// Not a Django setting: how long one backend call may take before it counts as down (default 5 s).
    pub backend_timeout: Duration,
    /// Not a Django setting: what a handshake gets when the backend is down (default: HTTP 503).
    pub on_backend_down: BackendDown,
}

impl Default for DjangoSettings {
    fn default() -> DjangoSettings {
        DjangoSettings {
            secret_key: String::new(),
            secret_key_fallbacks: Vec::new(),
            session_engine: SessionEngine::default(),
            session_cookie_name: "sessionid".to_owned(),
            session_cookie_age: Duration::from_secs(1_209_600),
            caches: None,
            databases: None,
            authentication_backends: vec!["django.contrib.auth.backends.ModelBackend".to_owned()],
            auth_user_model: UserModelSettings::default(),
            use_tz: true,
            time_zone: "America/Chicago".to_owned(),
            backend_timeout: Duration::from_secs(5),
            on_backend_down: BackendDown::default(),
        }
    }
}

impl DjangoSettings {
    /// The PostgreSQL session time zone Django's own connections use: `UTC` with `USE_TZ`, else
    /// `TIME_ZONE`.
    pub(crate) fn connection_time_zone(&self) -> &str {
        if self.use_tz { "UTC" } else { &self.time_zone }
    }

    /// Checks what the engine needs is there.
    pub(crate) fn validate(&self) -> Result<(), DjangoError> {
        if self.secret_key.is_empty() {
            return Err(DjangoError::EmptySecretKey);
        }
        let engine = self.session_engine;
        let needs_cache = matches!(engine, SessionEngine::Cache | SessionEngine::CachedDb);
        let needs_db = matches!(engine, SessionEngine::Db | SessionEngine::CachedDb);
        let no_cache = self.caches.as_ref().is_none_or(|c| c.location.is_empty());
        if needs_cache && no_cache {
            return Err(DjangoError::MissingCache {
                engine: engine.dotted_path(),
            });
        }
        if needs_db && self.databases.is_none() {
            return Err(DjangoError::MissingDatabase {
                engine: engine.dotted_path(),
            });
        }
        Ok(())
    }
}

/// `url` with the password of its user info replaced by `***` (`redis://:***@host/0`), for logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for CacheSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let location: Vec<String> = self.location.iter().map(|url| redact_url(url)).collect();
        f.debug_struct("CacheSettings")
            .field("location", &location)
            .field("key_prefix", &self.key_prefix)
            .field("version", &self.version)
            .finish()
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("name", &self.name)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("host", &self.host)
            .field("port", &self.port)
            .finish()
    }
}

impl std::fmt::Debug for DjangoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoSettings")
            .field("secret_key", &"***")
            .field("secret_key_fallbacks", &self.secret_key_fallbacks.len())
            .field("session_engine", &self.session_engine)
            .field("session_cookie_name", &self.session_cookie_name)
            .field("session_cookie_age", &self.session_cookie_age)
            .field("caches", &self.caches)
            .field("databases", &self.databases)
            .field("authentication_backends", &self.authentication_backends)
            .field("auth_user_model", &self.auth_user_model)
            .field("use_tz", &self.use_tz)
            .field("time_zone", &self.time_zone)
            .field("backend_timeout", &self.backend_timeout)
            .field("on_backend_down", &self.on_backend_down)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_in_logs() {
        assert_eq!(redact_url("redis://:pw@h:6379/1"), "redis://:***@h:6379/1");
        assert_eq!(redact_url("redis://u:pw@h/0"), "redis://u:***@h/0");
        assert_eq!(redact_url("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact_url("unix:///tmp/r.sock"), "unix:///tmp/r.sock");
        let db = DatabaseSettings {
            password: "hunter2".into(),
            ..DatabaseSettings::postgres("site")
        };
        assert!(!format!("{db:?}").contains("hunter2"));
    }
}
