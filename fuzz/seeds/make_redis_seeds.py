#!/usr/bin/env python3
"""Writes the redis_codec target's seeds (fuzz/seeds/redis_codec/): channels_redis messages (12 prefix
bytes + a msgpack dict) for a normal channel (flag byte 0), and dict entries for a reply channel (flag
byte 1, then the entry count; the harness adds the prefix and `__asgi_channel__`). A tiny msgpack
encoder, so that no Python package is needed. Run from fuzz/: python3 seeds/make_redis_seeds.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "redis_codec")

def pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 65536:
            return b"\xcd" + struct.pack(">H", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        return entries(v, 0x80 | len(v))
    raise TypeError(v)

def entries(d, head=None):
    body = b"".join(pack(k) + pack(x) for k, x in d.items())
    return (bytes([head]) if head is not None else b"") + body

messages = {
    "typed": {"type": "chat.message", "text": "hi", "n": 3, "f": 1.5, "nested": {"a": [1, None]}},
    "text_close": {"text": "bye", "close": True},
    "bytes": {"bytes": b"\x00\x01\xff"},
    "close_code": {"close": 4000},
    "accept": {"accept": True},
    "reject": {"accept": False},
    "http": {"status": 200, "headers": [["content-type", "text/plain"]], "content": b"ok"},
    "null_text": {"text": None, "bytes": b"x"},
    "big_int": {"type": "x", "n": -(2**63)},
}
os.makedirs(OUT, exist_ok=True)
for name, d in messages.items():
    with open(os.path.join(OUT, f"{name}_0"), "wb") as f:
        f.write(b"\x00" + b"\x00" * 12 + pack(d))
    with open(os.path.join(OUT, f"{name}_1"), "wb") as f:
        f.write(b"\x01" + bytes([len(d)]) + entries(d))
