"""Sessions made by Django itself, for tests/integration/django_auth.rs.

Creates the PostgreSQL database CHANNELS_DJANGO_DB (on 127.0.0.1:5432, user postgres), runs Django's
migrations there, creates users through django.contrib.auth, logs them in with django.contrib.auth.login
on each session engine (signed_cookies, cache and cached_db on the Redis at CHANNELS_DJANGO_REDIS, db),
then prints one JSON object: {"users": {name: pk}, "cases": {case: cookie value}}.

    CHANNELS_DJANGO_DB=name CHANNELS_DJANGO_REDIS=redis://127.0.0.1:PORT/0 \
    CHANNELS_DJANGO_SECRET=... CHANNELS_DJANGO_OLD_SECRET=... python make_sessions.py

`python make_sessions.py drop` drops the database (WITH (FORCE): the Rust server may still hold a
connection). `python make_sessions.py terminate` ends the Rust side's connections to it (as a
PostgreSQL restart would). `python make_sessions.py loads VALUE` prints what Django's signed-cookie session store
reads from the cookie VALUE (a session the Rust side signed), as JSON.
"""

import datetime
import json
import os
import sys
import time
from importlib import import_module
from unittest import mock

import psycopg
from psycopg import sql

DB = os.environ.get("CHANNELS_DJANGO_DB", "")
SECRET = os.environ.get("CHANNELS_DJANGO_SECRET", "")
OLD_SECRET = os.environ.get("CHANNELS_DJANGO_OLD_SECRET", "")
REDIS = os.environ.get("CHANNELS_DJANGO_REDIS", "")
SERVER = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)


def create_database():
    with psycopg.connect(**SERVER) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))


def drop_database():
    with psycopg.connect(**SERVER) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))


def terminate_rust_connections():
    with psycopg.connect(**SERVER) as con:
        ended = con.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'channels-django-sessions'",
            [DB],
        ).fetchone()[0]
    print(json.dumps({"terminated": ended}))


def configure():
    from django.conf import settings

    settings.configure(
        SECRET_KEY=SECRET,
        SECRET_KEY_FALLBACKS=[OLD_SECRET],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": DB,
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": "5432",
            }
        },
        # A KEY_PREFIX and a VERSION other than the defaults, so the test proves the key function.
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS,
                "KEY_PREFIX": "site",
                "VERSION": 3,
            }
        },
        USE_TZ=True,
        # Fast to compute; the session auth hash is an HMAC of whatever the password field holds.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    import django

    django.setup()


def main():
    create_database()
    configure()
    from django.contrib.auth import get_user_model, login
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    User = get_user_model()
    users = {
        name: User.objects.create_user(name, password=f"{name}-password")
        for name in ["alice", "bob", "carol", "dave"]
    }
    model_backend = "django.contrib.auth.backends.ModelBackend"

    def store_of(engine):
        return import_module(f"django.contrib.sessions.backends.{engine}").SessionStore

    def logged_in(engine, user, expiry=None, backend=model_backend, extra=None):
        """A session of `engine` as django.contrib.auth.login leaves it; its cookie value."""
        request = RequestFactory().get("/")
        request.session = store_of(engine)()
        login(request, user, backend=backend)
        for key, value in (extra or {}).items():
            request.session[key] = value
        if expiry is not None:
            request.session.set_expiry(expiry)
        request.session.save()
        return request.session.session_key

    def anonymous(engine):
        session = store_of(engine)()
        session["cart"] = ["apple", "pear"]
        session.save()
        return session.session_key

    engines = ["signed_cookies", "cache", "cached_db", "db"]
    cases = {}
    for engine in engines:
        cases[f"{engine}/alice"] = logged_in(engine, users["alice"])
        cases[f"{engine}/anonymous_with_data"] = anonymous(engine)
        # Logged in, then the password changed: the session auth hash no longer matches.
        cases[f"{engine}/bob_password_changed"] = logged_in(engine, users["bob"])
        # Logged in, then deactivated: ModelBackend.get_user refuses inactive users.
        cases[f"{engine}/carol_deactivated"] = logged_in(engine, users["carol"])
        # Logged in through a backend that is not in AUTHENTICATION_BACKENDS.
        cases[f"{engine}/other_backend"] = logged_in(
            engine, users["alice"], backend="myapp.backends.TokenBackend"
        )
        # Logged in under the old SECRET_KEY, now in SECRET_KEY_FALLBACKS.
        with override_settings(SECRET_KEY=OLD_SECRET, SECRET_KEY_FALLBACKS=[]):
            cases[f"{engine}/dave_old_secret"] = logged_in(engine, users["dave"])
        if engine == "signed_cookies":
            # Signed longer ago than SESSION_COOKIE_AGE (two weeks).
            long_ago = time.time() - 1209600 - 3600
            with mock.patch("time.time", return_value=long_ago):
                cases[f"{engine}/alice_expired"] = logged_in(engine, users["alice"])
            # Signed with a key the Rust side doesn't know.
            with override_settings(SECRET_KEY="someone-elses-key", SECRET_KEY_FALLBACKS=[]):
                cases[f"{engine}/alice_forged"] = logged_in(engine, users["alice"])
        else:
            # set_expiry in the past: db rows get a past expire_date, the cache drops the key.
            cases[f"{engine}/alice_expired"] = logged_in(engine, users["alice"], expiry=-60)
    # The cache pickles the session dict itself, so a view may keep any Python object in it.
    cases["cache/alice_with_datetime"] = logged_in(
        "cache", users["alice"], extra={"seen": datetime.datetime(2020, 1, 2, 3, 4, 5)}
    )
    # A cached_db session the cache has lost: read from the database.
    key = logged_in("cached_db", users["alice"])
    cache.delete(store_of("cached_db").cache_key_prefix + key)
    cases["cached_db/alice_cache_evicted"] = key
    # A db row whose session_data was tampered with (one character of the payload flipped).
    for engine in ["db", "cached_db"]:
        key = logged_in(engine, users["alice"])
        if engine == "cached_db":
            cache.delete(store_of(engine).cache_key_prefix + key)
        with connection.cursor() as cursor:
            cursor.execute("SELECT session_data FROM django_session WHERE session_key = %s", [key])
            (data,) = cursor.fetchone()
            flipped = data[:5] + ("A" if data[5] != "A" else "B") + data[6:]
            cursor.execute(
                "UPDATE django_session SET session_data = %s WHERE session_key = %s", [flipped, key]
            )
        cases[f"{engine}/alice_data_tampered"] = key

    users["bob"].set_password("a new password")
    users["bob"].save()
    users["carol"].is_active = False
    users["carol"].save()
    print(json.dumps({"users": {name: user.pk for name, user in users.items()}, "cases": cases}))


def loads(value):
    from django.conf import settings

    settings.configure(SECRET_KEY=SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET])
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    print(json.dumps(dict(SessionStore(session_key=value).load())))


if __name__ == "__main__":
    if sys.argv[1:] == ["drop"]:
        drop_database()
    elif sys.argv[1:] == ["terminate"]:
        terminate_rust_connections()
    elif sys.argv[1:2] == ["loads"]:
        loads(sys.argv[2])
    else:
        main()
