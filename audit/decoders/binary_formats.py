"""MessagePack and CBOR bodies as plain trees, so detectors read them like JSON.

Both formats carry more than JSON: byte strings (text when readable, else
``blobs.bytes_leaf``: hex, or a media summary), non-string map keys (rendered as
strings), msgpack extension types and CBOR tags (the tag or type code is dropped and
the value kept), timestamps and dates (ISO 8601 strings), big integers (hex strings
beyond 128 bits: a megabyte-long integer must not reach ``str()``). A body holding a
sequence of values (several msgpack objects, or an RFC 8742 CBOR sequence) becomes a
list of them. Declared lengths larger than the body fail before anything is allocated
(msgpack's max_*_len limits, cbor2's reads); nesting, value count and CBOR's shared
references (which can form cycles) are bounded while converting.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

import cbor2
import msgpack

from .blobs import bytes_leaf, printable_text
from .errors import DecodeError
from .tree import MAX_NESTING, MAX_VALUES

_BIG_INT_BITS = 128
_SCALARS = (str, bool, float, type(None))


def decode_msgpack(data: bytes) -> Any:
    """A msgpack body as a tree (a list if it holds several values). Raises DecodeError."""
    unpacker = msgpack.Unpacker(
        max_buffer_size=max(len(data), 1),
        max_array_len=MAX_VALUES,
        max_map_len=MAX_VALUES,
        use_list=False,  # tuples: an array used as a map key stays hashable
        raw=False,
        unicode_errors="replace",
        strict_map_key=False,
    )
    values: list[Any] = []
    consumed = 0
    try:
        unpacker.feed(data)
        for value in unpacker:
            values.append(value)
            if len(values) > MAX_VALUES:
                raise DecodeError(f"msgpack: more than {MAX_VALUES} values, not decoded")
            # Iteration just stops at an incomplete value: where the last one ended tells.
            consumed = unpacker.tell()
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException) as exc:
        raise DecodeError(f"msgpack: {_reason(exc)}") from None
    if consumed != len(data):
        raise DecodeError(f"msgpack: truncated value at byte {consumed}")
    return _Plain("msgpack").tree(values)


def decode_cbor(data: bytes) -> Any:
    """A CBOR body (or CBOR sequence) as a tree. Raises DecodeError."""
    fp = io.BytesIO(data)
    values: list[Any] = []
    try:
        decoder = cbor2.CBORDecoder(fp, max_depth=MAX_NESTING, str_errors="replace")
        while fp.tell() < len(data):
            values.append(decoder.decode())
            if len(values) > MAX_VALUES:
                raise DecodeError(f"CBOR: more than {MAX_VALUES} values, not decoded")
    except DecodeError:
        raise
    except (
        cbor2.CBORError,
        ValueError,
        TypeError,
        LookupError,
        OverflowError,
        RecursionError,
        EOFError,
    ) as exc:
        raise DecodeError(f"CBOR: {_reason(exc)}") from None
    return _Plain("CBOR").tree(values)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


class _Plain:
    """Converts decoded values into tree values, with the caps every decoder keeps."""

    __slots__ = ("active", "count", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.active: set[int] = set()  # containers being converted: a repeat is a cycle

    def tree(self, values: list[Any]) -> Any:
        if not values:
            return {}
        if len(values) == 1:
            return self.value(values[0], 0)
        return self.value(values, 0)

    def value(self, node: Any, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise DecodeError(f"{self.name}: more than {MAX_VALUES} values, not decoded")
        if isinstance(node, _SCALARS):
            return node
        if isinstance(node, int):
            return node if node.bit_length() <= _BIG_INT_BITS else hex(node)
        if isinstance(node, bytes | bytearray | memoryview):
            return bytes_leaf(bytes(node))
        if isinstance(node, msgpack.ExtType):  # a named tuple: before the sequences
            return bytes_leaf(node.data)
        if isinstance(node, Mapping):
            return self.container(node, depth, mapping=True)
        if isinstance(node, list | tuple | set | frozenset):
            return self.container(node, depth, mapping=False)
        return self.other(node, depth)

    def container(self, node: Any, depth: int, *, mapping: bool) -> Any:
        if depth >= MAX_NESTING:
            raise DecodeError(f"{self.name}: nested deeper than {MAX_NESTING} levels")
        ident = id(node)
        if ident in self.active:
            raise DecodeError(f"{self.name}: cyclic shared reference, not decoded")
        self.active.add(ident)
        try:
            if mapping:
                return {self.key(k): self.value(v, depth + 1) for k, v in node.items()}
            items: Iterable[Any] = node
            return [self.value(v, depth + 1) for v in items]
        finally:
            self.active.discard(ident)

    def key(self, key: Any) -> str:
        if isinstance(key, str):
            return key
        if isinstance(key, bytes):
            text = printable_text(key)
            return text if text is not None else key.hex()
        if isinstance(key, bool | int | float) or key is None:
            return str(self.value(key, MAX_NESTING))
        return re.sub(r"\s+", " ", str(self.value(key, 0)))[:200]

    def other(self, node: Any, depth: int) -> Any:
        if isinstance(node, cbor2.CBORTag):
            if depth >= MAX_NESTING:
                raise DecodeError(f"{self.name}: nested deeper than {MAX_NESTING} levels")
            self.count -= 1
            return self.value(node.value, depth + 1)
        if isinstance(node, cbor2.CBORSimpleValue):
            return node.value
        if node is cbor2.undefined:
            return None
        if isinstance(node, msgpack.Timestamp):
            try:
                return node.to_datetime().isoformat()
            except (OverflowError, ValueError, OSError):
                return node.to_unix()
        if isinstance(node, dt.datetime | dt.date | dt.time):
            return node.isoformat()
        if isinstance(node, re.Pattern):
            return str(node.pattern)
        return str(node)[:4096]
