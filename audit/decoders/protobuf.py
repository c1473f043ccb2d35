"""Protocol Buffers bodies as trees: a schema-less wire walk, named by operator .proto files if any.

Without a schema (``decode_protobuf(data)``) a message becomes a dict keyed by field
number as a string (``"1"``, ``"2"``; a number seen more than once holds a list):

* varints become ints (read as signed 64-bit: negative int32/int64 are the common case);
* length-delimited values become a string when they are printable UTF-8, else a nested
  message when they parse completely as one (at most ``MAX_DEPTH`` levels), else bytes
  as ``blobs.bytes_leaf`` renders them (hex, or a media summary). Text is preferred
  over a message on purpose: ``"0000"`` parses as a message too, and a message taken
  for text still has its words scanned, while text taken for a message is lost;
* 64-bit and 32-bit values become doubles/floats when that reading is finite and of a
  plausible size (1e-6 to 1e10), with the raw unsigned integer kept beside them under
  ``"<n>_int"`` (it may be an identifier); otherwise the raw integer alone.

Field numbers carry no names, so the location detector could not pair a latitude with
a longitude. Hence a heuristic: in one message, two consecutive field numbers holding
single doubles or floats with at least 4 decimals, the first within +-90 and the second
within +-180 (or two integers that read so as 1e-6 or 1e-7 degrees, both at least 1
degree away from zero) add ``"_position": {"lat": ..., "lon": ...}`` (further pairs:
``_position_2``, ...), located as ``request.body:$._position.lat``. Sensor readings
that happen to look like coordinates are the price of finding real ones.

With a schema (``load_schemas``): .proto files are parsed by ``proto-schema-parser``
(pure Python; protoc via grpcio-tools is a heavy native build, and generated classes
would be code loaded from operator input), and the same wire walk is typed by them:
field names as keys, proto3 scalar types (zigzag, signed, bool, enum names, packed
repeated), maps as dicts, unknown or mistyped fields kept schema-less under their
number. The message type comes from the gRPC method (``/pkg.Service/Method`` with a
service in the schema), else from the operator's ``routes`` (first regex that searches
the URL path), else the top-level message that knows the most top-level fields, with
none of them of another wire type and more known than unknown (newer senders add
fields); if none fits, the walk stays schema-less. Groups
(wire types 3 and 4, deprecated since proto2) are treated as malformed input.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .blobs import bytes_leaf, printable_text
from .encoding import DEFAULT_LIMIT, decode_content
from .errors import DecodeError
from .tree import MAX_VALUES

MAX_DEPTH = 32
#: Fields walked in all (including speculative nested parses) before giving up.
MAX_FIELDS = 4 * MAX_VALUES
#: A sniffed (unlabelled) body is taken for protobuf only with top-level field numbers
#: up to this: real schemas number their fields from 1, random bytes rarely stay low.
SNIFF_MAX_FIELD = 1 << 12
#: Shorter unlabelled bodies are not sniffed: a few random bytes parse too often.
SNIFF_MIN_BYTES = 8
#: A sniffed body needs this many top-level fields (one more when all are varints or
#: fixed32s): eight random bytes after a key are a whole fixed64 field one time in
#: eight, and a lone number says little anyway.
SNIFF_MIN_FIELDS = 2
#: A sniffed fixed64 field must read as a double of plausible size (see ``_PLAUSIBLE``)
#: or as an integer within this magnitude (timestamps, counters, ids from a sequence):
#: random 64-bit words rarely do either.
SNIFF_MAX_FIXED64 = 1 << 53

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_MAX_FIELD = (1 << 29) - 1
_RESERVED = range(19000, 20000)  # reserved for the protobuf implementation itself
_PLAUSIBLE = (1e-6, 1e10)
_MIN_DECIMALS = 4

_VARINT_TYPES = frozenset(
    {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool", "enum"}
)
_I64_TYPES = frozenset({"fixed64", "sfixed64", "double"})
_I32_TYPES = frozenset({"fixed32", "sfixed32", "float"})
_SCALARS = _VARINT_TYPES - {"enum"} | _I64_TYPES | _I32_TYPES | {"string", "bytes"}


class SchemaError(ValueError):
    """A .proto file or route that cannot be used; the message names the file or route."""


class _Malformed(Exception):
    """The bytes are not a protobuf message (caught: a nested guess just fails)."""


class FieldBudget:
    """How many more fields the decodes sharing it may walk (all messages of one body)."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int = MAX_FIELDS) -> None:
        self.limit = limit
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise DecodeError(f"protobuf: more than {self.limit} fields, not decoded")


# --- schemas ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    number: int
    type: str  # a scalar name, "enum", "message" or "map"
    repeated: bool = False
    ref: str | None = None  # full name of the enum or message (the map's value type)
    key_type: str | None = None  # map fields only
    value_type: str | None = None  # map fields only: a scalar name, "enum" or "message"


@dataclass(frozen=True, slots=True)
class _MessageSpec:
    name: str
    fields: Mapping[int, _FieldSpec]


@dataclass(frozen=True, slots=True)
class Schemas:
    """Message and enum definitions from .proto files, plus how to choose the message type."""

    messages: Mapping[str, _MessageSpec] = field(default_factory=dict)
    enums: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    #: gRPC path ``/pkg.Service/Method`` -> full name of its input message.
    methods: Mapping[str, str] = field(default_factory=dict)
    #: (URL path regex, full message name), tried in order.
    routes: tuple[tuple[re.Pattern[str], str], ...] = ()
    #: Top-level messages in declaration order: the candidates when nothing names one.
    top_level: tuple[str, ...] = ()

    def message_for(self, path: str | None) -> str | None:
        """The message named for a URL path by a gRPC method or a route; None if none is."""
        if not path:
            return None
        path = path.split("?", 1)[0]
        if path in self.methods:
            return self.methods[path]
        for pattern, name in self.routes:
            if pattern.search(path):
                return name
        return None


def load_schemas(
    paths: Iterable[str | os.PathLike[str]], routes: Mapping[str, str] | None = None
) -> Schemas:
    """Read .proto files (a directory means every ``*.proto`` below it) into Schemas.

    ``routes`` maps a URL path regex to a message name (full, or short when unique).
    Imports are not followed: list every file needed. Raises SchemaError.
    """
    texts: list[tuple[str, str]] = []
    for p in paths:
        path = Path(p)
        files = sorted(path.rglob("*.proto")) if path.is_dir() else [path]
        for f in files:
            try:
                texts.append((str(f), f.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise SchemaError(f"{f}: cannot read ({exc})") from None
    return schemas_from_text(texts, routes)


def schemas_from_text(
    texts: Iterable[tuple[str, str]], routes: Mapping[str, str] | None = None
) -> Schemas:
    """Schemas from ``(name, .proto source)`` pairs; see load_schemas. Raises SchemaError."""
    builder = _SchemaBuilder()
    for name, text in texts:
        builder.add_file(name, _parse_proto(name, text))
    return builder.build(routes or {})


def _parse_proto(name: str, text: str) -> Any:
    # Imported here: the ANTLR-generated parser takes a moment to load and only
    # operators with .proto files need it.
    from antlr4.error.ErrorListener import ErrorListener
    from proto_schema_parser.parser import Parser

    class _Raise(ErrorListener):
        def syntaxError(  # the name ANTLR calls
            self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
        ) -> None:
            raise SchemaError(f"{name}:{line}:{column}: {msg}")

    def strict(recognizer: Any) -> None:
        recognizer.removeErrorListeners()
        recognizer.addErrorListener(_Raise())

    try:
        return Parser(setup_lexer=strict, setup_parser=strict).parse(text)
    except SchemaError:
        raise
    except Exception as exc:  # the parser's own checks raise plain exceptions
        raise SchemaError(f"{name}: {exc}") from None


class _SchemaBuilder:
    """Collects declarations from parsed files, then resolves type names to full names."""

    def __init__(self) -> None:
        # full name -> (scope for resolution, AST fields)
        self.raw_messages: dict[str, tuple[str, list[Any]]] = {}
        self.enums: dict[str, dict[int, str]] = {}
        self.raw_methods: list[tuple[str, str, str]] = []  # (gRPC path, scope, input type)
        self.top_level: list[str] = []

    def add_file(self, name: str, ast_file: Any) -> None:
        from proto_schema_parser import ast

        package = ""
        for el in ast_file.file_elements:
            if isinstance(el, ast.Package):
                package = el.name
        for el in ast_file.file_elements:
            if isinstance(el, ast.Message):
                full = f"{package}.{el.name}" if package else el.name
                self.top_level.append(full)
                self._message(el, full, ast)
            elif isinstance(el, ast.Enum):
                self._enum(el, f"{package}.{el.name}" if package else el.name, ast)
            elif isinstance(el, ast.Service):
                service = f"{package}.{el.name}" if package else el.name
                for m in el.elements:
                    if isinstance(m, ast.Method):
                        self.raw_methods.append(
                            (f"/{service}/{m.name}", package, m.input_type.type)
                        )

    def _message(self, msg: Any, full: str, ast: Any) -> None:
        fields: list[Any] = []
        for el in msg.elements:
            if isinstance(el, ast.Field | ast.MapField):
                fields.append(el)
            elif isinstance(el, ast.OneOf):
                fields.extend(f for f in el.elements if isinstance(f, ast.Field))
            elif isinstance(el, ast.Message):
                self._message(el, f"{full}.{el.name}", ast)
            elif isinstance(el, ast.Enum):
                self._enum(el, f"{full}.{el.name}", ast)
        self.raw_messages[full] = (full, fields)

    def _enum(self, enum: Any, full: str, ast: Any) -> None:
        values: dict[int, str] = {}
        for el in enum.elements:
            if isinstance(el, ast.EnumValue):
                values.setdefault(el.number, el.name)  # allow_alias: the first name wins
        self.enums[full] = values

    def resolve(self, name: str, scope: str) -> str | None:
        """Protobuf scoping: innermost enclosing scope first, a leading dot means absolute."""
        if name.startswith("."):
            name = name[1:]
            return name if name in self.raw_messages or name in self.enums else None
        parts = scope.split(".") if scope else []
        for i in range(len(parts), -1, -1):
            candidate = ".".join([*parts[:i], name])
            if candidate in self.raw_messages or candidate in self.enums:
                return candidate
        return None

    def _typed(self, type_name: str, scope: str) -> tuple[str, str | None]:
        if type_name in _SCALARS:
            return type_name, None
        ref = self.resolve(type_name, scope)
        if ref is None:
            return "message", None  # e.g. an import not given: decoded schema-less
        return ("enum" if ref in self.enums else "message"), ref

    def build(self, routes: Mapping[str, str]) -> Schemas:
        from proto_schema_parser import ast

        messages: dict[str, _MessageSpec] = {}
        for full, (scope, raw_fields) in self.raw_messages.items():
            specs: dict[int, _FieldSpec] = {}
            for f in raw_fields:
                if isinstance(f, ast.MapField):
                    value_type, ref = self._typed(f.value_type, scope)
                    specs[f.number] = _FieldSpec(
                        f.name, f.number, "map", False, ref, f.key_type, value_type
                    )
                else:
                    kind, ref = self._typed(f.type, scope)
                    repeated = f.cardinality == ast.FieldCardinality.REPEATED
                    specs[f.number] = _FieldSpec(f.name, f.number, kind, repeated, ref)
            messages[full] = _MessageSpec(full, specs)
        methods = {}
        for path, scope, input_type in self.raw_methods:
            ref = self.resolve(input_type, scope)
            if ref in messages:
                methods[path] = ref
        compiled = []
        for pattern, name in routes.items():
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise SchemaError(f"route {pattern!r}: {exc}") from None
            compiled.append((regex, self._message_name(name, messages, pattern)))
        return Schemas(messages, dict(self.enums), methods, tuple(compiled), tuple(self.top_level))

    @staticmethod
    def _message_name(name: str, messages: Mapping[str, _MessageSpec], route: str) -> str:
        name = name.lstrip(".")
        if name in messages:
            return name
        matches = [m for m in messages if m.endswith("." + name)]
        if len(matches) == 1:
            return matches[0]
        what = "is ambiguous" if matches else "is not in the schemas"
        raise SchemaError(f"route {route!r}: message {name!r} {what}")


# --- the wire walk ---------------------------------------------------------------------

# (field number, wire type, value or start offset, end offset for LEN)
_Wire = tuple[int, int, int, int]


def decode_protobuf(
    data: bytes,
    *,
    schemas: Schemas | None = None,
    path: str | None = None,
    sniff: bool = False,
    budget: FieldBudget | None = None,
) -> dict[str, Any]:
    """Decode one protobuf message into a tree (see the module docstring for its shape).

    ``path`` (the URL path) chooses the message type when ``schemas`` are given.
    ``sniff=True`` is for unlabelled bodies: it also rejects parses that are
    implausible (shorter than ``SNIFF_MIN_BYTES``; varints no encoder writes; top-level
    field numbers out of ascending order, above ``SNIFF_MAX_FIELD`` or reserved by
    protobuf; too few top-level fields or an implausible fixed64, see ``_plausible``)
    or that leave a length-delimited value undecoded (neither text nor message):
    random or encrypted bytes rarely pass all that (about 1 in 100,000 bodies of up to
    4 KiB, all of them under 64 bytes; ``bench/protobuf_sniff.py``), and are better
    reported as an opaque payload. Raises DecodeError for
    anything not a message. ``budget`` bounds the fields walked (speculative nested
    parses included) across every message that shares it: one per body, so that many
    gRPC frames or multipart parts cannot add up to more than ``MAX_FIELDS``.
    """
    if sniff and len(data) < SNIFF_MIN_BYTES:
        raise DecodeError(f"protobuf: fewer than {SNIFF_MIN_BYTES} bytes, not sniffed")
    reader = _Reader(data, schemas, budget or FieldBudget(), strict=sniff)
    try:
        fields = reader.walk(0, len(data))
        if sniff and not _plausible(fields):
            raise DecodeError("protobuf: implausible field numbers or order, not decoded")
        tree = None
        if schemas is not None:
            name = schemas.message_for(path) or _best_message(schemas, fields)
            if name is not None and name in schemas.messages:
                tree = reader.typed(fields, schemas.messages[name], 0)
        if tree is None:
            tree = reader.untyped(fields, 0)
        if sniff and reader.opaque:
            raise DecodeError("protobuf: undecodable length-delimited field, not decoded")
        return tree
    except _Malformed as exc:
        raise DecodeError(f"protobuf: {exc}") from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps well below the limit
        raise DecodeError("protobuf: nested too deeply, not decoded") from None


def _plausible(fields: list[_Wire]) -> bool:
    """Whether a sniffed message looks written by an encoder rather than found in noise.

    Low field numbers in ascending order, as every encoder writes them; fixed64 values
    that read as a number; and enough of them: ``SNIFF_MIN_FIELDS`` when one is
    length-delimited (text or a nested message, which random bytes rarely make) or a
    fixed64, three when all are varints and fixed32s (two of those fill a few random
    bytes too easily).
    """
    previous = 0
    strong = False
    for number, wire, a, _b in fields:
        if number < previous or number > SNIFF_MAX_FIELD or number in _RESERVED:
            return False
        if wire == I64 and not _plausible_fixed64(a):
            return False
        strong = strong or wire in (LEN, I64)
        previous = number
    return len(fields) >= (SNIFF_MIN_FIELDS if strong else SNIFF_MIN_FIELDS + 1)


def _plausible_fixed64(raw: int) -> bool:
    if abs(_signed(raw, 64)) < SNIFF_MAX_FIXED64:
        return True
    return _plausible_real(struct.unpack("<d", raw.to_bytes(8, "little"))[0])


def _best_message(schemas: Schemas, fields: list[_Wire]) -> str | None:
    """The top-level message that fits the fields best (see the module docstring)."""
    numbers = {(n, w) for n, w, _a, _b in fields}
    best, best_known = None, 0
    for name in schemas.top_level:
        spec = schemas.messages[name]
        known = unknown = 0
        for n, w in numbers:
            f = spec.fields.get(n)
            if f is None:
                unknown += 1
            elif _compatible(f, w):
                known += 1
            else:
                break  # a known field with another wire type: not this message
        else:
            if known > unknown and known > best_known:
                best, best_known = name, known
    return best


def _compatible(f: _FieldSpec, wire: int) -> bool:
    expected = _wire_of(f.type)
    return wire == expected or (wire == LEN and f.repeated and expected != LEN)


def _wire_of(type_name: str) -> int:
    if type_name in _VARINT_TYPES:
        return VARINT
    if type_name in _I64_TYPES:
        return I64
    if type_name in _I32_TYPES:
        return I32
    return LEN


class _Reader:
    """One buffer being decoded: nested messages are offsets into it, never copies."""

    __slots__ = ("budget", "buf", "opaque", "schemas", "strict")

    def __init__(
        self, buf: bytes, schemas: Schemas | None, budget: FieldBudget, *, strict: bool = False
    ) -> None:
        self.buf = buf
        self.schemas = schemas
        self.budget = budget
        self.opaque = False  # a schema-less length-delimited value was neither text nor message
        # Sniffing: also refuse varints that no encoder writes (a needless trailing 0x00
        # byte, or more than 64 bits), which parsers accept but random bytes often hold.
        self.strict = strict

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        buf = self.buf
        result = shift = 0
        start = pos
        while True:
            if pos >= end:
                raise _Malformed(f"truncated varint at byte {start}")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                if self.strict and ((shift and not b) or result >> 64):
                    raise _Malformed(f"varint at byte {start} is not canonically encoded")
                return result & 0xFFFFFFFFFFFFFFFF, pos
            shift += 7
            if shift >= 70:
                raise _Malformed(f"varint longer than 10 bytes at byte {start}")

    def walk(self, start: int, end: int) -> list[_Wire]:
        """The fields in ``buf[start:end]``; raises _Malformed unless they fill it exactly."""
        buf = self.buf
        fields: list[_Wire] = []
        pos = start
        while pos < end:
            self.budget.spend()
            at = pos
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            if number == 0 or number > _MAX_FIELD:
                raise _Malformed(f"invalid field number {number} at byte {at}")
            if wire == VARINT:
                value, pos = self.varint(pos, end)
                fields.append((number, wire, value, 0))
            elif wire in (I64, I32):
                size = 8 if wire == I64 else 4
                if pos + size > end:
                    raise _Malformed(f"truncated {size * 8}-bit field at byte {at}")
                fields.append((number, wire, int.from_bytes(buf[pos : pos + size], "little"), 0))
                pos += size
            elif wire == LEN:
                length, pos = self.varint(pos, end)
                if length > end - pos:
                    raise _Malformed(f"length {length} at byte {at} runs past the end")
                fields.append((number, wire, pos, pos + length))
                pos += length
            else:
                raise _Malformed(f"unsupported wire type {wire} at byte {at}")
        return fields

    # --- schema-less ---
    def untyped(self, fields: list[_Wire], depth: int) -> dict[str, Any]:
        values: dict[int, list[Any]] = {}
        raws: dict[int, list[int | None]] = {}
        candidates: dict[int, list[tuple[str, float]]] = {}
        for number, wire, a, b in fields:
            value, raw = self.untyped_value(wire, a, b, depth)
            values.setdefault(number, []).append(value)
            raws.setdefault(number, []).append(raw)
            if len(values[number]) == 1:
                candidates[number] = _candidates(wire, a, value, raw)
            else:
                candidates.pop(number, None)  # a repeated field is not one coordinate
        out: dict[str, Any] = {}
        for number, items in values.items():
            out[str(number)] = items[0] if len(items) == 1 else items
            kept = raws[number]
            if any(r is not None for r in kept):
                ints = [a if r is None else r for r, a in zip(kept, items, strict=True)]
                out[f"{number}_int"] = ints[0] if len(ints) == 1 else ints
        for i, (lat, lon) in enumerate(_positions(candidates)):
            out["_position" if i == 0 else f"_position_{i + 1}"] = {"lat": lat, "lon": lon}
        return out

    def untyped_value(self, wire: int, a: int, b: int, depth: int) -> tuple[Any, int | None]:
        """The value, and the raw integer when the value shown is its float reading."""
        if wire == VARINT:
            return _signed(a, 64), None
        if wire == I64:
            real = struct.unpack("<d", a.to_bytes(8, "little"))[0]
            return (real, a) if _plausible_real(real) else (a, None)
        if wire == I32:
            real = _float32(a)
            return (real, a) if _plausible_real(real) else (a, None)
        return self.bytes_value(a, b, depth), None

    def bytes_value(self, start: int, end: int, depth: int) -> Any:
        raw = self.buf[start:end]
        text = printable_text(raw)
        if text is not None:
            return text
        if depth < MAX_DEPTH:
            try:
                return self.untyped(self.walk(start, end), depth + 1)
            except _Malformed:
                pass
        self.opaque = True
        return bytes_leaf(raw)

    # --- with a schema ---
    def typed(self, fields: list[_Wire], spec: _MessageSpec, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        unknown: list[_Wire] = []
        for wire_field in fields:
            number, wire, a, b = wire_field
            f = spec.fields.get(number)
            if f is None or not _compatible(f, wire):
                unknown.append(wire_field)
                continue
            try:
                if f.type == "map":
                    entries = out.setdefault(f.name, {})
                    if isinstance(entries, dict):
                        self.map_entry(f, a, b, depth, entries)
                    continue
                if f.repeated and wire == LEN and _wire_of(f.type) != LEN:
                    items = self.packed(f, a, b)
                else:
                    items = [self.typed_value(f.type, f.ref, wire, a, b, depth)]
            except _Malformed:
                unknown.append(wire_field)  # not what the schema says: kept schema-less
                continue
            if f.repeated:
                previous = out.setdefault(f.name, [])
                if isinstance(previous, list):
                    previous.extend(items)
            else:
                out[f.name] = items[-1]  # proto semantics: the last one wins
        if unknown:
            for key, value in self.untyped(unknown, depth).items():
                out.setdefault(key, value)
        return out

    def typed_value(
        self, type_name: str, ref: str | None, wire: int, a: int, b: int, depth: int
    ) -> Any:
        if wire == VARINT:
            return self.varint_value(type_name, ref, a)
        if wire == I64:
            if type_name == "double":
                return struct.unpack("<d", a.to_bytes(8, "little"))[0]
            return _signed(a, 64) if type_name == "sfixed64" else a
        if wire == I32:
            if type_name == "float":
                return _float32(a)
            return _signed(a, 32) if type_name == "sfixed32" else a
        if type_name == "string":
            return self.buf[a:b].decode("utf-8", errors="replace")
        if type_name == "bytes":
            return bytes_leaf(self.buf[a:b])
        schemas = self.schemas
        if ref is not None and schemas is not None and ref in schemas.messages:
            if depth < MAX_DEPTH:
                try:
                    return self.typed(self.walk(a, b), schemas.messages[ref], depth + 1)
                except _Malformed:
                    pass
            return bytes_leaf(self.buf[a:b])
        return self.bytes_value(a, b, depth)  # a message type the schemas do not define

    def varint_value(self, type_name: str, ref: str | None, a: int) -> Any:
        if type_name in ("int32", "int64"):
            return _signed(a, 64 if type_name == "int64" else 32)
        if type_name == "uint32":
            return a & 0xFFFFFFFF
        if type_name in ("sint32", "sint64"):
            if type_name == "sint32":
                a &= 0xFFFFFFFF
            return (a >> 1) ^ -(a & 1)
        if type_name == "bool":
            return a != 0
        if type_name == "enum" and ref is not None and self.schemas is not None:
            names = self.schemas.enums.get(ref, {})
            return names.get(_signed(a, 32), _signed(a, 32))
        return a

    def packed(self, f: _FieldSpec, start: int, end: int) -> list[Any]:
        wire = _wire_of(f.type)
        items: list[Any] = []
        pos = start
        while pos < end:
            self.budget.spend()
            if wire == VARINT:
                value, pos = self.varint(pos, end)
            else:
                size = 8 if wire == I64 else 4
                if pos + size > end:
                    raise _Malformed(f"truncated packed field at byte {pos}")
                value = int.from_bytes(self.buf[pos : pos + size], "little")
                pos += size
            items.append(self.typed_value(f.type, f.ref, wire, value, 0, 0))
        return items

    def map_entry(
        self, f: _FieldSpec, start: int, end: int, depth: int, entries: dict[str, Any]
    ) -> None:
        key: Any = ""
        value: Any = None
        for number, wire, a, b in self.walk(start, end):
            if number == 1 and f.key_type is not None:
                key = self.typed_value(f.key_type, None, wire, a, b, depth + 1)
            elif number == 2 and f.value_type is not None:
                value = self.typed_value(f.value_type, f.ref, wire, a, b, depth + 1)
        entries[str(key)] = value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _float32(raw: int) -> float:
    """A float32 as the shortest decimal that reads back to the same 32 bits."""
    packed = raw.to_bytes(4, "little")
    value: float = struct.unpack("<f", packed)[0]
    if not math.isfinite(value):
        return value
    for digits in range(6, 10):
        short = float(f"{value:.{digits}g}")
        if struct.pack("<f", short) == packed:
            return short
    return value  # pragma: no cover - 9 significant digits always round-trip


def _plausible_real(value: float) -> bool:
    return math.isfinite(value) and _PLAUSIBLE[0] <= abs(value) <= _PLAUSIBLE[1]


def _candidates(wire: int, raw: int, value: Any, real_raw: int | None) -> list[tuple[str, float]]:
    """Readings of a single field that could be half of a coordinate pair."""
    if wire == VARINT:
        return [("int", float(value))]
    if wire == I32:
        found = [("int", float(_signed(raw, 32)))]
        if real_raw is not None:
            found.insert(0, ("real", value))
        return found
    if wire == I64 and real_raw is not None:
        return [("real", value)]
    return []


def _positions(candidates: dict[int, list[tuple[str, float]]]) -> list[tuple[float, float]]:
    found: list[tuple[float, float]] = []
    used: set[int] = set()
    for n in sorted(candidates):
        if n in used or n + 1 not in candidates:
            continue
        for kind, first in candidates[n]:
            second = next((v for k, v in candidates[n + 1] if k == kind), None)
            pair = None if second is None else _pair(kind, first, second)
            if pair is not None:
                found.append(pair)
                used.update((n, n + 1))
                break
    return found


def _pair(kind: str, first: float, second: float) -> tuple[float, float] | None:
    if kind == "real":
        if _coordinates(first, second) and min(_decimals(first), _decimals(second)) >= 4:
            return first, second
        return None
    for scale, step in ((1e6, 100), (1e7, 1000)):  # 4 decimals: not a multiple of 1e-4 deg
        lat, lon = first / scale, second / scale
        if _coordinates(lat, lon):
            if min(abs(lat), abs(lon)) >= 1.0 and first % step and second % step:
                return round(lat, 7), round(lon, 7)
            return None
    return None


def _coordinates(lat: float, lon: float) -> bool:
    return abs(lat) <= 90.0 and abs(lon) <= 180.0 and not (lat == 0.0 and lon == 0.0)


def _decimals(value: float) -> int:
    text = repr(value)
    if "e" in text:
        return 0
    return len(text.partition(".")[2].rstrip("0"))


# --- gRPC framing ----------------------------------------------------------------------

_GRPC_TRAILERS = 0x80
_GZIP_MAGIC = b"\x1f\x8b"


def grpc_frames(data: bytes, *, text: bool = False, limit: int = DEFAULT_LIMIT) -> list[bytes]:
    """The messages of a gRPC (or gRPC-Web) body: 5-byte prefix (flag, length) per message.

    Compressed messages (flag bit 0) are inflated with the capped decoder: gzip when
    they start with its magic, else deflate (the ``grpc-encoding`` header is not at
    hand here). gRPC-Web trailer frames (flag bit 7) are skipped; ``text=True`` is
    ``application/grpc-web-text`` (base64 of the frames). Raises DecodeError.
    """
    if text:
        try:
            data = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError("grpc-web-text: invalid base64") from None
    frames: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            raise DecodeError(f"gRPC: truncated frame header at byte {pos}")
        flags = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        start = pos + 5
        if length > len(data) - start:
            raise DecodeError(f"gRPC: frame of {length} bytes at byte {pos} runs past the end")
        payload = data[start : start + length]
        pos = start + length
        if flags & _GRPC_TRAILERS:
            continue
        if flags & 1:
            coding = "gzip" if payload.startswith(_GZIP_MAGIC) else "deflate"
            payload = decode_content(payload, coding, limit=limit)
        frames.append(payload)
        if len(frames) > MAX_VALUES:
            raise DecodeError(f"gRPC: more than {MAX_VALUES} frames, not decoded")
    return frames
