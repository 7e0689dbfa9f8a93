#!/usr/bin/env python3
"""Writes the handshake target's seed corpus (fuzz/seeds/handshake/): valid upgrade requests for each of
the fuzz server's routes, each followed by WebSocket frames, plain HTTP requests, and a few broken ones.
Each seed starts with the flag byte (bit 0: half-close after writing). Run from fuzz/: python3 seeds/make_handshake_seeds.py"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "handshake")

def upgrade(path, extra=b""):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")

def frame(opcode, payload, fin=True, mask=b"\x00\x00\x00\x00"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked

def text(s):
    return frame(1, s.encode())

def close(code=1000, reason=b""):
    return frame(8, struct.pack(">H", code) + reason)

def http(method, path, body=b"", headers=b""):
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n" + headers + b"\r\n" + body)

seeds = {
    "echo_text": upgrade(b"/echo/") + text("hello") + close(),
    "echo_reply_dict": upgrade(b"/echo/") + text(json.dumps({"text": "hi", "close": 4001})),
    "echo_bad_dict": upgrade(b"/echo/") + text(json.dumps({"text": "a", "bytes": [1, 2]})),
    "echo_bytes": upgrade(b"/echo/") + frame(2, b"\x00\x01\xff") + close(1001, b"bye"),
    "echo_fragments": upgrade(b"/echo/") + frame(1, b"hel", fin=False) + frame(0, b"lo") + frame(9, b"p"),
    "echo_masked": upgrade(b"/echo/") + frame(1, b'{"accept": true, "text": "x"}', mask=b"\x12\x34\x56\x78"),
    "item": upgrade(b"/items/42/") + text("x"),
    "item_overflow": upgrade(b"/items/99999999999/") + text("x"),
    "small_even": upgrade(b"/small/4/"),
    "small_odd": upgrade(b"/small/7/"),
    "room": upgrade(b"/rooms/lobby/") + text(json.dumps({"type": "chat.message", "text": "hi"})),
    "room_group_text": upgrade(b"/rooms/lobby/") + text(json.dumps({"text": "to all"})),
    "room_percent": upgrade(b"/rooms/a%20b/") + text("x"),
    "room_utf8": upgrade(b"/rooms/%C3%A9/"),
    "reject": upgrade(b"/reject/"),
    "no_route": upgrade(b"/nowhere/"),
    "http_get": http(b"GET", b"/page/"),
    "http_json": http(b"POST", b"/api/", json.dumps({"status": 201, "headers": [["x-a", "b"]], "content": "ok"}).encode()),
    "http_bad_header": http(b"POST", b"/api/", json.dumps({"status": 200, "headers": [["bad name", "v\n"]]}).encode()),
    "http_chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n0\r\n\r\n",
    "http10_upgrade": upgrade(b"/echo/").replace(b"HTTP/1.1", b"HTTP/1.0"),
    "no_version": upgrade(b"/echo/").replace(b"Sec-WebSocket-Version: 13\r\n", b""),
    "pipelined": http(b"GET", b"/a") + http(b"GET", b"/b"),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    for flag in (0, 1):
        with open(os.path.join(OUT, f"{name}_{flag}"), "wb") as f:
            f.write(bytes([flag]) + data)
