"""Bounds-checked big-endian reads over one binary message, shared by the binary decoders.

Running off the end of a message is a DecodeError naming the protocol and
the part being read, never an IndexError from a slice that came up short.
"""

from __future__ import annotations

from typing import ClassVar

from shekara.audit.decoders.errors import DecodeError


class ByteReader:
    #: Protocol name that opens every error message ("MQTT", "GT06", ...).
    protocol: ClassVar[str] = ""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self.pos = 0

    def error(self, text: str) -> DecodeError:
        return DecodeError(f"{self.protocol}: {self.what} {text}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.error(f"truncated at byte {len(self.data)}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def i16(self) -> int:
        return int.from_bytes(self.take(2), "big", signed=True)

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def i32(self) -> int:
        return int.from_bytes(self.take(4), "big", signed=True)

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def rest(self) -> bytes:
        return self.take(self.remaining())

    def end(self) -> None:
        """The message must be read to its last byte: more is a framing error."""
        if self.pos != len(self.data):
            raise self.error(f"has {len(self.data) - self.pos} unexpected trailing bytes")
