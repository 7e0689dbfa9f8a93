"""Slow members and memory (issue 6): 1,500 chat members that never read, one ~1 MiB broadcast; how much
does the server's RSS grow, and is it given back?

Run against the chat example (BENCHMARKS.md, "Slow clients, measured"):
    target/release/examples/chat --bind 127.0.0.1:8300 &
    python3 channels-bench/scripts/pin_memory.py $! 8300 1500

Each member connects with a 4 KiB receive buffer, completes the handshake and reads nothing; one more
member sends a text of 1,048,000 bytes (the chat relays it to every member as "[user] ..."). Loopback only;
needs `ulimit -n` above the member count.
"""
import asyncio, socket, sys, time

PID, PORT = int(sys.argv[1]), int(sys.argv[2])
MEMBERS = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
REQ = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def rss():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    return 0


async def member(small):
    sock = socket.socket()
    if small:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", PORT))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(REQ)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def frame(text: bytes) -> bytes:
    n = len(text)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    elif n < 65536:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + text  # a zero mask leaves the payload as it is


async def main():
    members = []
    for i in range(0, MEMBERS, 100):
        members += await asyncio.gather(*(member(True) for _ in range(min(100, MEMBERS - i))))
    sender_r, sender_w = await member(False)
    await asyncio.sleep(1.0)
    before = rss()
    sender_w.write(frame(b"x" * 1_048_000))
    await sender_w.drain()
    # The sender reads its own copy back (it is a member too): the broadcast has gone out by then.
    got = 0
    while got < 1_048_000:
        got += len(await sender_r.read(1 << 20))
    peak = before
    t0 = time.time()
    while time.time() - t0 < 3.0:
        peak = max(peak, rss())
        await asyncio.sleep(0.05)
    after = rss()
    print(f"members {MEMBERS}: RSS before {before/2**20:.1f} MiB, peak within 3 s {peak/2**20:.1f} MiB "
          f"(+{(peak-before)/2**20:.1f} MiB), at 3 s {after/2**20:.1f} MiB")
    # then wait past the write timeout (10 s) and look again
    await asyncio.sleep(9.0)
    print(f"  12 s after: {rss()/2**20:.1f} MiB")
    for _, w in members:
        w.close()


asyncio.run(main())
