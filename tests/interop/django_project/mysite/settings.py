"""The Channels 4 tutorial's `mysite`, cut to what the interop tests need.

The channel layer is the tutorial's, the default `RedisChannelLayer` config with nothing but `hosts`,
pointed at the test's own redis-server: `CHANNELS_INTEROP_REDIS` (a URL, e.g. redis://127.0.0.1:6390/0).
No database: sessions are signed cookies, so `AuthMiddlewareStack` never touches one.
"""
import os

SECRET_KEY = "interop-tests-only-not-secret"
DEBUG = False
# The test clients send no Origin header; `AllowedHostsOriginValidator` lets them in only with "*".
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "chat",
]

ROOT_URLCONF = "mysite.urls"
ASGI_APPLICATION = "mysite.asgi.application"
DATABASES = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
USE_TZ = True

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("CHANNELS_INTEROP_REDIS", "redis://127.0.0.1:6379/0")],
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
