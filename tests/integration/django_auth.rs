//! Django's logged-in user on a Rust socket (`channels::django`), proven with sessions made by Django
//! itself: `tests/interop/make_sessions.py` (run in the virtualenv `tests/interop/setup.sh` makes)
//! creates a PostgreSQL database of the test's own, runs Django's migrations there, creates users
//! through `django.contrib.auth` and logs them in with `django.contrib.auth.login` on each session
//! engine (signed cookies; cache and cached_db on a redis-server of the test's own; db), with a
//! `KEY_PREFIX` and `VERSION` of its own. A Rust server with `DjangoAuthMiddleware` then gets each
//! session's cookie on a real WebSocket handshake, and its connect consumer says who it sees.
//!
//! Also here: `django.core.signing` checked against vectors Django made (see [`vectors`]), and what a
//! handshake gets when the session backend is down.
//!
//! Without the virtualenv the Django tests fail and say to run the set-up, unless
//! `CHANNELS_SKIP_INTEROP=1`. The database is dropped when the test ends (a guard), every wait is bounded.
#![cfg(all(feature = "django", feature = "redis"))]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use channels::ServerHandle;
use channels::auth::HttpSessionMiddleware;
use channels::django::signing::TimestampSigner;
use channels::django::{
    BackendDown, CacheSessions, CacheSettings, DatabaseSettings, DbSessions, DjangoAuthMiddleware,
    DjangoSettings, DjangoUser, SessionEngine,
};
use channels::prelude::*;
use channels::testing::{TestError, WebsocketCommunicator};
use serde_json::Value;

use crate::common::start;
use crate::interop_support::{ready_or_skip, run_to_success, venv};
use crate::redis_support::OwnRedis;

const SECRET: &str = "rust-side-by-side-secret";
const OLD_SECRET: &str = "the-secret-before-rotation";

/// The connect consumer: accepts and says who the middleware found, and the session's `cart`.
async fn whoami(message: Message) -> Result<()> {
    let user = message.user::<DjangoUser>();
    let answer = json!({
        "user": user.and_then(DjangoUser::id),
        "verified": matches!(user, Some(DjangoUser::Authenticated { verified: true, .. })),
        "engine": match user {
            Some(DjangoUser::Authenticated { engine, .. }) => Some(engine.short_name()),
            _ => None,
        },
        "cart": message.http_session().and_then(|s| s.get("cart")).cloned(),
    });
    message.reply_channel.accept().await?;
    message.reply_channel.send_text(answer.to_string()).await
}

fn routing_with(middleware: impl channels::auth::Middleware) -> Routing {
    Routing::new().with_middleware(middleware).route(Route::to(
        "websocket.connect",
        None,
        Consumer::from_async("whoami", whoami),
    ))
}

/// A Rust server with `DjangoAuthMiddleware` on `settings`.
async fn rust_server(settings: DjangoSettings) -> ServerHandle {
    let middleware = DjangoAuthMiddleware::new(settings).expect("the settings are complete");
    start(routing_with(middleware)).await.0
}

/// What the consumer saw for a handshake with `cookie` as `sessionid`; the HTTP status if refused.
async fn who(server: &ServerHandle, cookie: Option<&str>) -> Result<Value, u16> {
    let mut request = WebsocketCommunicator::build_to(server.local_addr(), "/ws/");
    if let Some(cookie) = cookie {
        request = request.cookie("sessionid", cookie);
    }
    match request.connect().await {
        Ok(mut ws) => Ok(ws.receive_json().await.expect("the consumer answers")),
        Err(TestError::Refused(status)) => Err(status),
        Err(other) => panic!("handshake failed: {other}"),
    }
}

/// The user id the consumer saw (`None`: anonymous).
async fn user_id(server: &ServerHandle, cookie: Option<&str>) -> Option<String> {
    let seen = who(server, cookie)
        .await
        .expect("the handshake is accepted");
    seen["user"].as_str().map(str::to_owned)
}

/// `value` with one character changed (a tampered cookie).
fn flip(value: &str, at: usize) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    chars[at] = if chars[at] == 'a' { 'b' } else { 'a' };
    chars.into_iter().collect()
}

/// A Django site of the test's own: its PostgreSQL database and Redis, and the sessions Django made
/// there. The database is dropped when it is dropped.
struct DjangoSite {
    redis: OwnRedis,
    python: PathBuf,
    db: String,
    made: Value,
}

impl DjangoSite {
    /// `None` when the virtualenv is missing and `CHANNELS_SKIP_INTEROP=1`.
    async fn launch() -> Option<DjangoSite> {
        let python = venv().join("bin/python");
        if !ready_or_skip("CHANNELS_SKIP_INTEROP", std::slice::from_ref(&python)) {
            return None;
        }
        let redis = OwnRedis::launch().await;
        let db = format!("channels_django_{}_{}", std::process::id(), redis.port);
        let mut site = DjangoSite {
            redis,
            python,
            db,
            made: Value::Null,
        };
        let output = run_to_success("make_sessions", &mut site.script(&[])).await;
        // The script prints one JSON line; Django may have logged before it.
        let line = output
            .lines()
            .rev()
            .find(|line| line.starts_with('{'))
            .unwrap_or_else(|| panic!("make_sessions printed no JSON:\n{output}"));
        site.made = serde_json::from_str(line).expect("make_sessions prints JSON");
        Some(site)
    }

    fn script(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(crate::interop_support::interop_dir("make_sessions.py"))
            .args(args)
            .env("CHANNELS_DJANGO_DB", &self.db)
            .env("CHANNELS_DJANGO_REDIS", format!("{}0", self.redis.url()))
            .env("CHANNELS_DJANGO_SECRET", SECRET)
            .env("CHANNELS_DJANGO_OLD_SECRET", OLD_SECRET)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        command
    }

    /// The settings.py of the site, for `engine`, line by line.
    fn settings(&self, engine: SessionEngine) -> DjangoSettings {
        DjangoSettings {
            secret_key: SECRET.into(),
            secret_key_fallbacks: vec![OLD_SECRET.into()],
            session_engine: engine,
            caches: Some(CacheSettings {
                location: vec![format!("{}0", self.redis.url())],
                key_prefix: "site".into(),
                version: 3,
            }),
            databases: Some(DatabaseSettings::postgres(&self.db)),
            ..DjangoSettings::default()
        }
    }

    fn cookie(&self, case: &str) -> &str {
        self.made["cases"][case]
            .as_str()
            .unwrap_or_else(|| panic!("make_sessions made no case {case}"))
    }

    fn id(&self, user: &str) -> Option<String> {
        Some(self.made["users"][user].to_string())
    }
}

impl Drop for DjangoSite {
    fn drop(&mut self) {
        match self.script(&["drop"]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "could not drop the test database {}: {}",
                self.db,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(error) => eprintln!("could not drop the test database {}: {error}", self.db),
        }
    }
}

/// What every engine must get right: the logged-in user; anonymous for no cookie, a tampered, expired,
/// anonymous or foreign session, a changed password, an inactive user, a backend not in
/// AUTHENTICATION_BACKENDS; the old secret (SECRET_KEY_FALLBACKS) still accepted.
async fn check_engine(site: &DjangoSite, engine: SessionEngine) {
    let name = engine.short_name();
    let case = |what: &str| site.cookie(&format!("{name}/{what}")).to_owned();
    let server = rust_server(site.settings(engine)).await;

    let alice = who(&server, Some(&case("alice"))).await.expect("accepted");
    assert_eq!(
        alice["user"].as_str().map(str::to_owned),
        site.id("alice"),
        "{name}"
    );
    assert_eq!(
        alice["verified"], true,
        "{name}: the session auth hash was checked"
    );
    assert_eq!(alice["engine"], name);
    assert_eq!(
        user_id(&server, Some(&case("dave_old_secret"))).await,
        site.id("dave"),
        "{name}: a session from before the key rotation (SECRET_KEY_FALLBACKS)"
    );

    let anonymous = who(&server, Some(&case("anonymous_with_data")))
        .await
        .expect("accepted");
    assert_eq!(anonymous["user"], Value::Null, "{name}");
    assert_eq!(
        anonymous["cart"],
        json!(["apple", "pear"]),
        "{name}: the session is there"
    );

    for what in [
        "alice_expired",
        "bob_password_changed",
        "carol_deactivated",
        "other_backend",
    ] {
        assert_eq!(
            user_id(&server, Some(&case(what))).await,
            None,
            "{name}/{what}"
        );
    }
    let alice = case("alice");
    for at in [0, alice.len() / 2, alice.len() - 1] {
        let tampered = flip(&alice, at);
        assert_eq!(
            user_id(&server, Some(&tampered)).await,
            None,
            "{name}: tampered at {at}"
        );
    }
    assert_eq!(user_id(&server, None).await, None, "{name}: no cookie");
    for garbage in ["", "x", ":::", "%%%", &"z".repeat(3000)] {
        assert_eq!(
            user_id(&server, Some(garbage)).await,
            None,
            "{name}: {garbage:.20}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_cookie_sessions_made_by_django_give_the_user() {
    let Some(site) = DjangoSite::launch().await else {
        return;
    };
    check_engine(&site, SessionEngine::SignedCookies).await;
    let server = rust_server(site.settings(SessionEngine::SignedCookies)).await;
    let forged = site.cookie("signed_cookies/alice_forged");
    assert_eq!(
        user_id(&server, Some(forged)).await,
        None,
        "signed with another key"
    );

    // Without DATABASES only the cookie's signature and age are checked: the password change is not
    // seen (documented), and the user is not `verified`.
    let settings = DjangoSettings {
        databases: None,
        ..site.settings(SessionEngine::SignedCookies)
    };
    let server = rust_server(settings).await;
    let alice = who(&server, Some(site.cookie("signed_cookies/alice")))
        .await
        .expect("accepted");
    assert_eq!(alice["user"].as_str().map(str::to_owned), site.id("alice"));
    assert_eq!(alice["verified"], false);
    let bob = site.cookie("signed_cookies/bob_password_changed");
    assert_eq!(user_id(&server, Some(bob)).await, site.id("bob"));
    let expired = site.cookie("signed_cookies/alice_expired");
    assert_eq!(user_id(&server, Some(expired)).await, None);

    // And the other way: Django's signed-cookie store reads a session the Rust side signed.
    let session = json!({"_auth_user_id": "7", "note": "made in Rust, é", "pad": "x".repeat(100)});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let signer = TimestampSigner::new(SECRET, "django.contrib.sessions.backends.signed_cookies");
    let signed = signer.sign_object_at(&session, true, now);
    let read = run_to_success("loads", &mut site.script(&["loads", &signed])).await;
    let read: Value = serde_json::from_str(read.trim()).expect("loads prints JSON");
    assert_eq!(read, session, "Django read back what Rust signed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_sessions_made_by_django_give_the_user() {
    let Some(site) = DjangoSite::launch().await else {
        return;
    };
    check_engine(&site, SessionEngine::Cache).await;
    let server = rust_server(site.settings(SessionEngine::Cache)).await;
    // The cache pickles the session dict as it is: a datetime a view stored there doesn't get in the way.
    let with_datetime = site.cookie("cache/alice_with_datetime");
    assert_eq!(
        user_id(&server, Some(with_datetime)).await,
        site.id("alice")
    );
    // Another KEY_PREFIX or VERSION is another cache: nobody is found there.
    let mut settings = site.settings(SessionEngine::Cache);
    settings.caches.as_mut().expect("set").version = 1;
    let server = rust_server(settings).await;
    assert_eq!(
        user_id(&server, Some(site.cookie("cache/alice"))).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_sessions_made_by_django_give_the_user() {
    let Some(site) = DjangoSite::launch().await else {
        return;
    };
    check_engine(&site, SessionEngine::CachedDb).await;
    let server = rust_server(site.settings(SessionEngine::CachedDb)).await;
    let evicted = site.cookie("cached_db/alice_cache_evicted");
    assert_eq!(
        user_id(&server, Some(evicted)).await,
        site.id("alice"),
        "not in the cache: read from django_session"
    );
    let tampered = site.cookie("cached_db/alice_data_tampered");
    assert_eq!(
        user_id(&server, Some(tampered)).await,
        None,
        "session_data tampered with"
    );
    // The cache is down: the database still has the session (as Django's cached_db reads it then).
    let mut settings = site.settings(SessionEngine::CachedDb);
    settings.caches = Some(CacheSettings {
        location: vec![format!("redis://127.0.0.1:{}/0", OwnRedis::free_port())],
        key_prefix: "site".into(),
        version: 3,
    });
    let server = rust_server(settings).await;
    let alice = site.cookie("cached_db/alice");
    assert_eq!(user_id(&server, Some(alice)).await, site.id("alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_sessions_made_by_django_give_the_user() {
    let Some(site) = DjangoSite::launch().await else {
        return;
    };
    check_engine(&site, SessionEngine::Db).await;
    let server = rust_server(site.settings(SessionEngine::Db)).await;
    let tampered = site.cookie("db/alice_data_tampered");
    assert_eq!(
        user_id(&server, Some(tampered)).await,
        None,
        "session_data tampered with"
    );

    // PostgreSQL ends the server's connection (as a restart would): the next handshake reconnects.
    let ended = run_to_success("terminate", &mut site.script(&["terminate"])).await;
    assert!(
        ended.contains(r#""terminated": 1"#),
        "one connection ended: {ended}"
    );
    let alice = site.cookie("db/alice");
    assert_eq!(user_id(&server, Some(alice)).await, site.id("alice"));

    // The engines are `HttpSessionStore`s too: Channels' SessionMiddleware on Django's sessions.
    let store = DbSessions::new(&site.settings(SessionEngine::Db)).expect("settings complete");
    let (server, _) = start(routing_with(HttpSessionMiddleware::new(store))).await;
    let seen = who(&server, Some(site.cookie("db/anonymous_with_data")))
        .await
        .expect("accepted");
    assert_eq!(seen["cart"], json!(["apple", "pear"]));
    assert_eq!(seen["user"], Value::Null, "no auth middleware: no user");
    let seen = who(&server, Some(site.cookie("db/alice_expired")))
        .await
        .expect("accepted");
    assert_eq!(seen["cart"], Value::Null, "expired: no session");
}

/// A session backend that is down refuses the handshake with 503 (the default) or gives an anonymous
/// user (`BackendDown::Anonymous`); the error is logged either way, and once the backend is back the
/// next handshake gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_is_down_refuses_with_503_or_gives_anonymous_as_configured() {
    let port = OwnRedis::free_port();
    let cache_settings = |down: BackendDown| DjangoSettings {
        secret_key: SECRET.into(),
        session_engine: SessionEngine::Cache,
        caches: Some(CacheSettings::redis(format!("redis://127.0.0.1:{port}/0"))),
        on_backend_down: down,
        backend_timeout: Duration::from_secs(2),
        ..DjangoSettings::default()
    };
    let key = "abcdefghijklmnopqrstuvwxyz012345";
    let refusing = rust_server(cache_settings(BackendDown::Refuse)).await;
    let lenient = rust_server(cache_settings(BackendDown::Anonymous)).await;
    assert_eq!(
        who(&refusing, Some(key)).await,
        Err(503),
        "nothing listens on the cache's port"
    );
    assert_eq!(user_id(&lenient, Some(key)).await, None);
    // No cookie: no backend call, so no refusal.
    assert_eq!(user_id(&refusing, None).await, None);
    // The engines as `HttpSessionStore`s fail the same way (SessionMiddleware refuses with 503).
    let store =
        CacheSessions::new(&cache_settings(BackendDown::Refuse)).expect("settings complete");
    let (sessions_only, _) = start(routing_with(HttpSessionMiddleware::new(store))).await;
    assert_eq!(who(&sessions_only, Some(key)).await, Err(503));

    // The cache comes up: the same middleware connects and answers (no such session: anonymous).
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    assert_eq!(user_id(&refusing, Some(key)).await, None);
    // A cache that accepts but doesn't answer counts as down after `backend_timeout`.
    redis.pause();
    assert_eq!(
        who(&refusing, Some(key)).await,
        Err(503),
        "the cache is frozen"
    );
    redis.resume();
    assert_eq!(user_id(&refusing, Some(key)).await, None, "and back");
    // Redis restarts: the connection it dropped is made again within the same handshake.
    drop(redis);
    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    assert_eq!(
        user_id(&refusing, Some(key)).await,
        None,
        "no 503 after a restart"
    );

    // The database: nothing listens on its port.
    let mut database = DatabaseSettings::postgres("nowhere");
    database.port = OwnRedis::free_port();
    let db_settings = DjangoSettings {
        secret_key: SECRET.into(),
        session_engine: SessionEngine::Db,
        databases: Some(database),
        backend_timeout: Duration::from_secs(2),
        ..DjangoSettings::default()
    };
    let server = rust_server(db_settings).await;
    assert_eq!(who(&server, Some(key)).await, Err(503));
}

#[test]
fn settings_that_cannot_work_are_an_error_not_a_panic() {
    use channels::django::DjangoError;
    let missing_cache = DjangoAuthMiddleware::new(DjangoSettings {
        secret_key: SECRET.into(),
        session_engine: SessionEngine::Cache,
        ..DjangoSettings::default()
    });
    assert!(matches!(
        missing_cache,
        Err(DjangoError::MissingCache { .. })
    ));
    let missing_db = DjangoAuthMiddleware::new(DjangoSettings {
        secret_key: SECRET.into(),
        ..DjangoSettings::default()
    });
    assert!(matches!(
        missing_db,
        Err(DjangoError::MissingDatabase { .. })
    ));
    let no_secret = DjangoAuthMiddleware::new(DjangoSettings {
        session_engine: SessionEngine::SignedCookies,
        ..DjangoSettings::default()
    });
    assert!(matches!(no_secret, Err(DjangoError::EmptySecretKey)));
    assert!(matches!(
        "django.contrib.sessions.backends.file".parse::<SessionEngine>(),
        Err(DjangoError::UnknownEngine(_))
    ));
    assert_eq!(
        "django.contrib.sessions.backends.cached_db"
            .parse::<SessionEngine>()
            .ok(),
        Some(SessionEngine::CachedDb)
    );
}

/// `django.core.signing` against values Django 5.2 made. Produced in the virtualenv with:
///
/// ```python
/// from unittest import mock
/// from django.conf import settings
/// settings.configure(SECRET_KEY="vector-secret", SECRET_KEY_FALLBACKS=["old-secret"])
/// from django.core import signing
/// from django.utils.crypto import salted_hmac
/// salted_hmac("django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
///             "pbkdf2_sha256$1000000$salt$hash", "vector-secret", algorithm="sha256").hexdigest()
/// [signing.b62_encode(x) for x in [0, 61, 62, 1700000000, -5]]
/// with mock.patch("time.time", return_value=1700000000.5):
///     signing.dumps({"_auth_user_id": "1", "x": "é"},
///                   salt="django.contrib.sessions.backends.signed_cookies")            # PLAIN
///     signing.dumps({"_auth_user_id": "1", "pad": "a" * 200},
///                   salt="django.contrib.sessions.backends.signed_cookies", compress=True)  # COMPRESSED
///     signing.dumps({"k": [1, 2.5, None, True]}, key="old-secret",
///                   salt="django.contrib.sessions.SessionStore", compress=True)        # FALLBACK
/// ```
mod vectors {
    use std::time::{Duration, UNIX_EPOCH};

    use channels::django::SigningError;
    use channels::django::signing::{
        TimestampSigner, b62_decode, b62_encode, salted_hmac_hex, verify_salted_hmac_hex,
    };
    use serde_json::json;

    const COOKIE_SALT: &str = "django.contrib.sessions.backends.signed_cookies";
    const PLAIN: &str = "eyJfYXV0aF91c2VyX2lkIjoiMSIsIngiOiJcdTAwZTkifQ:1r31eq:AoaEtEHPLOrWhLHINDGPq2H6ayUYlkR52gM4IbtXTYM";
    const COMPRESSED: &str = ".eJyrVopPLC3JiC8tTi2Kz0xRslIyVNJRKkgEsRKHCVCqBQDZXVUy:1r31eq:2eD0ttXBNjP4jLHieHLfMNCLT4qvyKxX2l6y9ZK4wqA";
    const FALLBACK: &str =
        "eyJrIjpbMSwyLjUsbnVsbCx0cnVlXX0:1r31eq:b5oPsKIXaP-DK-G9I2eY-VxEOIdutrnRo6rVII_Dyb8";
    const SIGNED_AT: u64 = 1_700_000_000;

    fn at(secs: u64) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn signer(salt: &str) -> TimestampSigner {
        TimestampSigner::new("vector-secret", salt).with_fallback_keys(["old-secret"])
    }

    #[test]
    fn salted_hmac_is_djangos() {
        let salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";
        let password = b"pbkdf2_sha256$1000000$salt$hash";
        let expected = "e1f1f5ca06ac467d0ebfd4d6304c75a3c0feaa6ec1471db06f649e6b610294ba";
        assert_eq!(salted_hmac_hex(salt, password, b"vector-secret"), expected);
        assert!(verify_salted_hmac_hex(
            salt,
            password,
            b"vector-secret",
            expected
        ));
        assert!(!verify_salted_hmac_hex(salt, password, b"other", expected));
        assert!(!verify_salted_hmac_hex(
            salt,
            password,
            b"vector-secret",
            "E1F1"
        ));
    }

    #[test]
    fn base62_timestamps_are_djangos() {
        let values = [0, 61, 62, 1_700_000_000, -5];
        let spelled = ["0", "z", "10", "1r31eq", "-5"];
        for (value, text) in values.into_iter().zip(spelled) {
            assert_eq!(b62_encode(value), text);
            assert_eq!(b62_decode(text), Some(value));
        }
        assert_eq!(b62_decode("1r3!eq"), None);
        assert_eq!(b62_decode(""), None);
        assert_eq!(b62_decode("zzzzzzzzzzzzzzzzzzzz"), None, "overflow");
    }

    #[test]
    fn values_django_signed_load() {
        let now = at(SIGNED_AT + 60);
        let cookies = signer(COOKIE_SALT);
        assert_eq!(
            cookies.unsign_object_at(PLAIN, None, now).unwrap(),
            json!({"_auth_user_id": "1", "x": "é"})
        );
        assert_eq!(
            cookies.unsign_object_at(COMPRESSED, None, now).unwrap(),
            json!({"_auth_user_id": "1", "pad": "a".repeat(200)})
        );
        // Signed with a key now in SECRET_KEY_FALLBACKS.
        let sessions = signer("django.contrib.sessions.SessionStore");
        assert_eq!(
            sessions.unsign_object_at(FALLBACK, None, now).unwrap(),
            json!({"k": [1, 2.5, null, true]})
        );
        let without_fallback =
            TimestampSigner::new("vector-secret", "django.contrib.sessions.SessionStore");
        assert!(matches!(
            without_fallback.unsign_object_at(FALLBACK, None, now),
            Err(SigningError::BadSignature)
        ));
    }

    #[test]
    fn django_refusals_are_refusals_here() {
        let cookies = signer(COOKIE_SALT);
        let two_weeks = Duration::from_secs(1_209_600);
        assert!(
            cookies
                .unsign_object_at(PLAIN, Some(two_weeks), at(SIGNED_AT + 1_209_600))
                .is_ok()
        );
        assert!(matches!(
            cookies.unsign_object_at(PLAIN, Some(two_weeks), at(SIGNED_AT + 1_209_601)),
            Err(SigningError::Expired { .. })
        ));
        // Another salt (another namespace) and any changed character are bad signatures.
        let other_salt = signer("django.contrib.sessions.SessionStore");
        assert!(matches!(
            other_salt.unsign_object_at(PLAIN, None, at(SIGNED_AT)),
            Err(SigningError::BadSignature)
        ));
        for index in 0..PLAIN.len() {
            let mut tampered = PLAIN.as_bytes().to_vec();
            tampered[index] = if tampered[index] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert!(
                cookies
                    .unsign_object_at(&tampered, None, at(SIGNED_AT))
                    .is_err(),
                "changed at {index}"
            );
        }
        for malformed in ["", "novalue", "a:b", "::", ":1r31eq:"] {
            assert!(
                cookies
                    .unsign_object_at(malformed, None, at(SIGNED_AT))
                    .is_err(),
                "{malformed}"
            );
        }
    }

    #[test]
    fn rust_signs_what_django_signs() {
        let cookies = signer(COOKIE_SALT);
        let value = json!({"_auth_user_id": "1", "x": "é"});
        assert_eq!(
            cookies.sign_object_at(&value, false, SIGNED_AT as i64),
            PLAIN
        );
        // zlib implementations may pick other bytes: compressed values round-trip instead.
        let long = json!({"_auth_user_id": "1", "pad": "a".repeat(200)});
        let signed = cookies.sign_object_at(&long, true, SIGNED_AT as i64);
        assert!(signed.starts_with('.'), "compressed when shorter");
        assert_eq!(
            cookies
                .unsign_object_at(&signed, None, at(SIGNED_AT))
                .unwrap(),
            long
        );
    }
}
