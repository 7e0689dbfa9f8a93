"""The Channels 4 tutorial's `mysite/asgi.py`, plus a `channel` entry for the custom channel the
interop test's `runworker` serves, and `/ws/bench/` for scripts/bench_django.sh."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
# Initialize Django ASGI application early to ensure the AppRegistry
# is populated before importing code that may import ORM models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from django.urls import path  # noqa: E402

from chat.bench import SeedChatConsumer  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from chat.worker import RelayWorker  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    websocket_urlpatterns
                    # scripts/bench_django.sh: the protocol of `channels-bench broadcast`.
                    + [path("ws/bench/", SeedChatConsumer.as_asgi())]
                )
            )
        ),
        # `python manage.py runworker py-worker`
        "channel": ChannelNameRouter({"py-worker": RelayWorker.as_asgi()}),
    }
)
