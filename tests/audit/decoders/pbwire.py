"""A tiny protobuf wire encoder for the tests (the format is small enough to state here)."""

from __future__ import annotations

import struct


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/int64 are sent as ten-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def zigzag(number: int, value: int) -> bytes:
    return vint(number, (value << 1) ^ (value >> 63))


def ld(number: int, payload: bytes | str) -> bytes:
    raw = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(raw)) + raw


def f64(number: int, value: float) -> bytes:
    return tag(number, 1) + struct.pack("<d", value)


def u64(number: int, value: int) -> bytes:
    return tag(number, 1) + struct.pack("<Q", value)


def f32(number: int, value: float) -> bytes:
    return tag(number, 5) + struct.pack("<f", value)


def u32(number: int, value: int) -> bytes:
    return tag(number, 5) + struct.pack("<I", value & 0xFFFFFFFF)


def grpc(message: bytes, *, flags: int = 0) -> bytes:
    return bytes([flags]) + len(message).to_bytes(4, "big") + message
