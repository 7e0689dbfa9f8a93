"""The seed's Group chat (examples/chat.rs) as a Channels 4 consumer, at `/ws/bench/`: the protocol
`channels-bench broadcast` speaks (each text T reaches every member as "[user] T"), for
scripts/bench_django.sh. Not part of the tutorial."""
from channels.generic.websocket import AsyncWebsocketConsumer


class SeedChatConsumer(AsyncWebsocketConsumer):
    # Channels 4 joins these on connect and leaves them on disconnect.
    groups = ["chat"]

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return
        await self.channel_layer.group_send(
            "chat", {"type": "chat.message", "text": f"[user] {text_data}"}
        )

    async def chat_message(self, event):
        await self.send(text_data=event["text"])
