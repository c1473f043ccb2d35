"""MQTT 3.1.1 control packets as bytes, for the raw-TCP flows of the sample captures."""

from __future__ import annotations

import struct


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def connect(
    client_id: str, username: str | None = None, password: str | None = None, keepalive: int = 60
) -> bytes:
    flags = 0x02  # clean session
    payload = _utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8(username)
    if password is not None:
        flags |= 0x40
        payload += _utf8(password)
    variable = _utf8("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive)
    body = variable + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def connack() -> bytes:
    return b"\x20\x02\x00\x00"


def publish(topic: str, payload: bytes, qos: int = 0, packet_id: int = 1) -> bytes:
    body = _utf8(topic)
    if qos:
        body += struct.pack(">H", packet_id)
    body += payload
    return bytes([0x30 | (qos << 1)]) + _remaining_length(len(body)) + body


def puback(packet_id: int) -> bytes:
    return b"\x40\x02" + struct.pack(">H", packet_id)


def pingreq() -> bytes:
    return b"\xc0\x00"


def pingresp() -> bytes:
    return b"\xd0\x00"


def disconnect() -> bytes:
    return b"\xe0\x00"
