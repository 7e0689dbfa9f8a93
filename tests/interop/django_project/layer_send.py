"""A plain Django script on the project's channel layer, as a management task or a view would use it.

    python layer_send.py group chat_lobby "hello"            # group_send a chat.message
    python layer_send.py channel rust-worker '{"type": ...}'  # send a dict to a channel
"""
import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402


def main(argv):
    if len(argv) != 4 or argv[1] not in ("group", "channel"):
        sys.exit(__doc__)
    kind, name, payload = argv[1:]
    channel_layer = get_channel_layer()
    if kind == "group":
        async_to_sync(channel_layer.group_send)(name, {"type": "chat.message", "message": payload})
    else:
        async_to_sync(channel_layer.send)(name, json.loads(payload))


if __name__ == "__main__":
    main(sys.argv)
