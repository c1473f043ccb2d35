"""A point-to-point link between two network namespaces that delays one direction, in user space.

Where the kernel has no ``sch_netem`` (``tc qdisc ... netem`` answers "unknown
qdisc"), this plays netem's part: a TUN device in each namespace, and this
process moving packets between them, holding those from the server back by
the given delay. Both ends keep their own kernel TCP stacks, so a TCP
handshake across it is a real one.

Run: ``python delaylink.py CLIENT_NS CLIENT_ADDR SERVER_NS SERVER_ADDR DELAY_MS``;
it prints ``ready`` once both ends are up, and runs until killed.
"""

from __future__ import annotations

import fcntl
import heapq
import os
import select
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def _tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def _ip(ns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True)


def _end(ns: str, dev: str, addr: str, peer: str) -> int:
    with open(f"/var/run/netns/{ns}") as f:
        os.setns(f.fileno(), os.CLONE_NEWNET)
    fd = _tun(dev)
    _ip(ns, "link", "set", "lo", "up")
    _ip(ns, "addr", "add", f"{addr}/32", "peer", f"{peer}/32", "dev", dev)
    _ip(ns, "link", "set", dev, "up")
    return fd


def main() -> None:
    client_ns, client_addr, server_ns, server_addr, delay_ms = sys.argv[1:6]
    delay = float(delay_ms) / 1000
    c = _end(client_ns, "shkdl0", client_addr, server_addr)
    s = _end(server_ns, "shkdl1", server_addr, client_addr)
    print("ready", flush=True)
    due: list[tuple[float, int, bytes]] = []  # (time, seq, packet) for the client
    seq = 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else 1.0
        ready, _, _ = select.select([c, s], [], [], timeout)
        if c in ready:
            while True:
                try:
                    os.write(s, os.read(c, 65535))  # client → server: at once
                except BlockingIOError:
                    break
        if s in ready:
            while True:
                try:
                    pkt = os.read(s, 65535)
                except BlockingIOError:
                    break
                seq += 1
                heapq.heappush(due, (time.monotonic() + delay, seq, pkt))
        now = time.monotonic()
        while due and due[0][0] <= now:
            os.write(c, heapq.heappop(due)[2])  # server → client: held back


if __name__ == "__main__":
    main()
