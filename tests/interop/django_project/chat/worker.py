"""A worker consumer of the custom channel `py-worker` (`python manage.py runworker py-worker`).

`{"type": "relay.to_room", "room": r, "message": m}` becomes the tutorial's event
`{"type": "chat.message", "message": "python worker: " + m}` to the group `chat_<r>`, so whoever sent
to `py-worker` (a Rust `Channel::send`, in the interop test) sees in the room that this worker got it.
"""
from channels.consumer import AsyncConsumer


class RelayWorker(AsyncConsumer):
    async def relay_to_room(self, event):
        await self.channel_layer.group_send(
            f"chat_{event['room']}",
            {"type": "chat.message", "message": f"python worker: {event['message']}"},
        )
