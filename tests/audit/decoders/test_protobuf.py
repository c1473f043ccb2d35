"""Protobuf: the schema-less wire walk, coordinates without names, .proto schemas, gRPC frames."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.protobuf import (
    MAX_DEPTH,
    MAX_FIELDS,
    SNIFF_MAX_FIELD,
    SNIFF_MIN_BYTES,
    SchemaError,
    Schemas,
    decode_protobuf,
    grpc_frames,
    load_schemas,
    schemas_from_text,
)

from .pbwire import f32, f64, grpc, ld, tag, u32, u64, varint, vint, zigzag

VIN = "LGHC4V1D9HE204406"
LAT, LON = 43.238949, 76.889709
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4


def _raw(value: float) -> int:
    return int.from_bytes(struct.pack("<d", value), "little")


# --- schema-less -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        # The protobuf documentation's own examples: 150 in field 1, "testing" in field 2.
        (b"\x08\x96\x01", {"1": 150}),
        (b"\x08\x96\x01\x12\x07testing", {"1": 150, "2": "testing"}),
        (b"", {}),
        (vint(3, -5), {"3": -5}),
        (vint(1, 2**63 + 7), {"1": -(2**63) + 7}),  # read as signed 64-bit
        (vint(1, 1) + vint(1, 2) + vint(1, 3), {"1": [1, 2, 3]}),
        (ld(7, ""), {"7": ""}),
        (ld(2, "Алия\nНурланова"), {"2": "Алия\nНурланова"}),
        (ld(4, vint(1, 9) + ld(2, VIN)), {"4": {"1": 9, "2": VIN}}),
        (ld(5, b"\x00\xff\x10"), {"5": "00ff10"}),  # neither text nor a message: hex
        (
            ld(5, ld(1, vint(1, 1)) + ld(1, vint(1, 2))),
            {"5": {"1": [{"1": 1}, {"1": 2}]}},
        ),
        # 64-bit: a plausible double is shown with the raw integer beside it...
        (f64(3, 21.5), {"3": 21.5, "3_int": _raw(21.5)}),
        (f64(3, -1.25e9), {"3": -1.25e9, "3_int": _raw(-1.25e9)}),
        # ...an implausible one (a counter, an id) only as the integer.
        (u64(3, 1_700_000_000_000), {"3": 1_700_000_000_000}),
        (u64(3, 356938035643809), {"3": 356938035643809}),
        (u64(3, 0), {"3": 0}),
        # 32-bit floats as their shortest decimal; small integers stay integers.
        (f32(6, 21.7), {"6": 21.7, "6_int": int.from_bytes(struct.pack("<f", 21.7), "little")}),
        (u32(6, 12345), {"6": 12345}),
        (
            f64(3, 1.5) + u64(3, 42),
            {"3": [1.5, 42], "3_int": [_raw(1.5), 42]},
        ),
    ],
)
def test_schemaless_values(data: bytes, expected: dict[str, Any]) -> None:
    assert decode_protobuf(data) == expected


def test_text_is_preferred_over_a_message_that_happens_to_parse() -> None:
    # "0000" is also field 6 = 48 twice; the string reading keeps the characters.
    assert decode_protobuf(ld(1, "0000")) == {"1": "0000"}


def test_binary_values_are_summarised_not_copied() -> None:
    tree = decode_protobuf(ld(9, JPEG) + ld(10, bytes(range(256)) * 2))
    assert tree["9"] == {
        "filename": None,
        "content_type": "image/jpeg",
        "size": len(JPEG),
        "media": "image",
        "sha256": hashlib.sha256(JPEG).hexdigest(),
    }
    assert tree["10"]["media"] == "binary"
    assert tree["10"]["size"] == 512


def test_nesting_beyond_max_depth_stays_bytes() -> None:
    inner = vint(1, 1)
    for _ in range(MAX_DEPTH + 5):
        inner = ld(1, inner)
    tree: Any = decode_protobuf(inner)
    depth = 0
    while isinstance(tree, dict):
        tree = tree["1"]
        depth += 1
    assert depth == MAX_DEPTH + 1
    assert isinstance(tree, str)  # the rest, as hex


# --- coordinates without names ------------------------------------------------------------


@pytest.mark.parametrize(
    "message, position",
    [
        (f64(1, LAT) + f64(2, LON), {"lat": LAT, "lon": LON}),
        (
            vint(1, 7) + f64(4, -33.868820) + f64(5, 151.209296),
            {"lat": -33.86882, "lon": 151.209296},
        ),
        (f32(3, 43.2389) + f32(4, 76.8897), {"lat": 43.2389, "lon": 76.8897}),
        (vint(2, 432389490) + vint(3, 768897090), {"lat": LAT, "lon": LON}),  # 1e-7 degrees
        (vint(2, 43238949) + vint(3, 76889709), {"lat": LAT, "lon": LON}),  # 1e-6 degrees
        (vint(2, -33868820) + vint(3, 151209296), {"lat": -33.86882, "lon": 151.209296}),
        (u32(2, -338688200) + u32(3, 1512092960), {"lat": -33.86882, "lon": 151.209296}),
    ],
)
def test_consecutive_coordinates_get_a_position(message: bytes, position: dict[str, float]) -> None:
    tree = decode_protobuf(message)
    assert tree["_position"] == position
    assert "_position_2" not in tree


@pytest.mark.parametrize(
    "message",
    [
        f64(1, LAT) + f64(3, LON),  # not consecutive field numbers
        f64(2, 151.209296) + f64(3, -33.86882),  # lon, lat: 151 cannot be a latitude
        f64(1, 43.25) + f64(2, 76.5),  # too few decimals to be a position
        f64(1, 95.123456) + f64(2, 76.123456),  # latitude out of range
        f64(1, LAT) + f64(1, 43.1) + f64(2, LON),  # a repeated field is not one coordinate
        vint(1, 1_700_000_000) + vint(2, 12345),  # a timestamp and a counter
        vint(1, 123457) + vint(2, 234567),  # small integers: under a degree either way
        vint(1, 43_000_000) + vint(2, 76_000_000),  # whole degrees: 0 decimals
        f64(1, LAT) + vint(2, 768897090),  # a double and an integer are not a pair
    ],
)
def test_no_position_for_look_alikes(message: bytes) -> None:
    assert "_position" not in decode_protobuf(message)


def test_several_positions_in_one_message() -> None:
    tree = decode_protobuf(f64(1, LAT) + f64(2, LON) + f64(5, 51.507351) + f64(6, -0.127758))
    assert tree["_position"] == {"lat": LAT, "lon": LON}
    assert tree["_position_2"] == {"lat": 51.507351, "lon": -0.127758}


# --- malformed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x08", "truncated varint at byte 1"),
        (b"\x08\x96", "truncated varint at byte 1"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "varint longer than 10 bytes at byte 1"),
        (b"\x12\x05abc", "length 5 at byte 0 runs past the end"),
        (b"\x09\x00\x00\x00", "truncated 64-bit field at byte 0"),
        (b"\x0d\x00", "truncated 32-bit field at byte 0"),
        (b"\x0b\x08\x01\x0c", "unsupported wire type 3 at byte 0"),  # a proto2 group
        (b"\x0e", "unsupported wire type 6 at byte 0"),
        (b"\x00\x01", "invalid field number 0 at byte 0"),
        (tag(1 << 29, 0) + b"\x01", "invalid field number 536870912 at byte 0"),
        (vint(1, 150) + b"\x12", "truncated varint at byte 4"),
    ],
)
def test_malformed_messages(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=f"^protobuf: {message}$"):
        decode_protobuf(data)


def test_field_budget() -> None:
    with pytest.raises(DecodeError, match=f"more than {MAX_FIELDS} fields"):
        decode_protobuf(b"\x08\x01" * (MAX_FIELDS + 1))


PAD = vint(1, 1) + ld(2, "pad")  # enough bytes to be sniffed at all


@pytest.mark.parametrize(
    "data, reason",
    [
        (vint(1, 150) + ld(2, VIN), None),
        (vint(1, 150) + ld(2, VIN) + ld(2, VIN) + vint(7, 1), None),
        (PAD + vint(SNIFF_MAX_FIELD, 1), None),
        (PAD + ld(3, vint(9, 1) + vint(2, 1)), None),  # nested order is not checked
        (PAD + vint(SNIFF_MAX_FIELD + 1, 1), "implausible field numbers or order"),
        (PAD + vint(19000, 1), "implausible field numbers or order"),  # reserved
        (vint(2, 1) + vint(1, 1) + ld(3, "pad"), "implausible field numbers or order"),
        (PAD + ld(3, b"\x00\xff\x00"), "undecodable length-delimited field"),
        (vint(1, 150), f"fewer than {SNIFF_MIN_BYTES} bytes"),
    ],
)
def test_sniffing_rejects_implausible_messages(data: bytes, reason: str | None) -> None:
    decode_protobuf(data)  # a declared protobuf is decoded either way
    if reason is None:
        assert decode_protobuf(data, sniff=True) == decode_protobuf(data)
    else:
        with pytest.raises(DecodeError, match=reason):
            decode_protobuf(data, sniff=True)


def test_random_bytes_are_rarely_sniffed_as_protobuf() -> None:
    # Deterministic "random" 16..64-byte payloads (as an encrypted body would look).
    blobs = [hashlib.sha512(i.to_bytes(4, "big")).digest()[: 16 + i % 49] for i in range(2000)]
    sniffed = 0
    for blob in blobs:
        try:
            decode_protobuf(blob, sniff=True)
            sniffed += 1
        except DecodeError:
            pass
    assert sniffed <= 10  # none with the current sniffer; 0.2% of 16-byte ones before


@pytest.mark.parametrize(
    "data, sniffed",
    [
        (f64(1, LAT) + f64(2, LON), True),  # two fixed64s that read as doubles
        (u64(1, 1_700_000_000_000) + vint(2, 5), True),  # a millisecond timestamp
        (u64(1, 0x9E3779B97F4A7C15) + vint(2, 5), False),  # a 64-bit word read as noise
        (f64(1, LAT), False),  # one field is not enough
        (vint(1, 1) + vint(2, 1_700_000_000) + f32(3, 12.5), True),  # three numbers
        (vint(1, 1_700_000_000) + f32(3, 12.5), False),  # two numbers fill noise too easily
        (vint(1, 150) + b"\x12\x80\x00" + ld(3, "pad"), False),  # over-long varint
        (vint(1, 150) + tag(2, 0) + b"\xff" * 9 + b"\x7f" + ld(3, "pad"), False),  # > 64 bits
        (vint(1, 150) + vint(2, -1) + ld(3, "pad"), True),  # a negative int64: ten bytes
    ],
)
def test_sniffing_wants_evidence_beyond_a_complete_walk(data: bytes, sniffed: bool) -> None:
    decoded = decode_protobuf(data)  # a declared protobuf is decoded either way
    if sniffed:
        assert decode_protobuf(data, sniff=True) == decoded
    else:
        with pytest.raises(DecodeError):
            decode_protobuf(data, sniff=True)


def test_random_bodies_of_any_length_are_seldom_taken_for_protobuf() -> None:
    # Encrypted or compressed bodies look random; 1 to 4096 bytes, a quarter per band.
    rng = random.Random(20261128)
    bands = ((1, 16), (17, 64), (65, 512), (513, 4096))
    sniffed = 0
    for i in range(40_000):
        try:
            decode_protobuf(rng.randbytes(rng.randint(*bands[i % 4])), sniff=True)
        except DecodeError:
            continue
        sniffed += 1
    # A complete walk alone accepts 311 of these (0.8%), a sniffer that checked only
    # field numbers and order 74 (0.18%); bench/protobuf_sniff.py measures more bodies.
    assert sniffed <= 4  # 0.01%


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_random_bytes_only_raise_decode_error(data: bytes, sniff: bool) -> None:
    try:
        tree = decode_protobuf(data, sniff=sniff, schemas=SCHEMAS)
    except DecodeError:
        return
    assert isinstance(tree, dict)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 40),
            st.one_of(
                st.integers(-(2**63), 2**64 - 1),
                st.floats(allow_nan=False),
                st.binary(max_size=40),
                st.text(max_size=20),
            ),
        ),
        max_size=12,
    ),
    st.integers(0, 8),
)
def test_fuzz_valid_and_truncated_messages(fields: list[tuple[int, Any]], cut: int) -> None:
    parts = []
    for number, value in fields:
        if isinstance(value, int):
            parts.append(vint(number, value))
        elif isinstance(value, float):
            parts.append(f64(number, value))
        else:
            parts.append(ld(number, value))
    data = b"".join(parts)
    assert isinstance(decode_protobuf(data), dict)  # a well-formed message always decodes
    with contextlib.suppress(DecodeError):
        decode_protobuf(data[: max(0, len(data) - cut)], schemas=SCHEMAS)


# --- with a schema ------------------------------------------------------------------------

PROTO = """
syntax = "proto3";
package telem.v1;

message Position {
  double lat = 1;
  double lon = 2;
}

message Report {
  string vin = 1;
  repeated Position track = 2;
  map<string, string> attrs = 3;
  oneof id {
    int64 imei = 4;
    sint32 delta = 5;
  }
  enum Kind { KIND_UNKNOWN = 0; KIND_GPS = 1; }
  Kind kind = 6;
  message Driver { string name = 1; bytes photo = 2; }
  Driver driver = 7;
  repeated int32 speeds = 8;
  .telem.v1.Position last = 9;
  google.protobuf.Timestamp at = 10;
  bool ignition = 11;
  float fuel = 12;
  sfixed32 temp = 13;
}

message Heartbeat {
  uint32 seq = 1;
}

service Ingest {
  rpc Send (Report) returns (Heartbeat);
}
"""
SCHEMAS = schemas_from_text([("telem.proto", PROTO)])

REPORT = (
    ld(1, VIN)
    + ld(2, f64(1, LAT) + f64(2, LON))
    + ld(2, f64(1, 43.25) + f64(2, 76.95))
    + ld(3, ld(1, "plate") + ld(2, "777ABC02"))
    + vint(4, 356938035643809)
    + vint(6, 1)
    + ld(7, ld(1, "Aliya Nurlanova") + ld(2, JPEG))
    + ld(8, varint(60) + varint(61) + varint(2**64 - 1))  # packed, the last one is -1
    + ld(9, f64(1, 51.507351) + f64(2, -0.127758))
    + ld(10, vint(1, 1_700_000_000))
    + vint(11, 1)
    + f32(12, 37.5)
    + u32(13, -12)
    + vint(99, 5)  # not in the schema
)
REPORT_TREE = {
    "vin": VIN,
    "track": [{"lat": LAT, "lon": LON}, {"lat": 43.25, "lon": 76.95}],
    "attrs": {"plate": "777ABC02"},
    "imei": 356938035643809,
    "kind": "KIND_GPS",
    "driver": {
        "name": "Aliya Nurlanova",
        "photo": {
            "filename": None,
            "content_type": "image/jpeg",
            "size": len(JPEG),
            "media": "image",
            "sha256": hashlib.sha256(JPEG).hexdigest(),
        },
    },
    "speeds": [60, 61, -1],
    "last": {"lat": 51.507351, "lon": -0.127758},
    "at": {"1": 1_700_000_000},  # an import that was not given: schema-less
    "ignition": True,
    "fuel": 37.5,
    "temp": -12,
    "99": 5,
}


@pytest.mark.parametrize(
    "path",
    [
        "/telem.v1.Ingest/Send",  # the gRPC method names its input message
        None,  # Report fits best (field 99 is unknown; Heartbeat's seq is no string)
        "/api/unrelated",  # no route matches: the same best fit
    ],
)
def test_schema_names_fields(path: str | None) -> None:
    assert decode_protobuf(REPORT, schemas=SCHEMAS, path=path) == REPORT_TREE


def test_schema_scalar_types() -> None:
    assert decode_protobuf(zigzag(5, -3), schemas=SCHEMAS, path="/telem.v1.Ingest/Send") == {
        "delta": -3
    }
    assert decode_protobuf(vint(6, 7), schemas=SCHEMAS, path="/telem.v1.Ingest/Send") == {
        "kind": 7  # an enum number without a name stays a number
    }


def test_schema_mismatched_wire_type_is_kept_schema_less() -> None:
    tree = decode_protobuf(
        vint(1, 5) + ld(7, b"\x00\xff"), schemas=SCHEMAS, path="/telem.v1.Ingest/Send"
    )
    assert tree == {"1": 5, "driver": "00ff"}


def test_routes_choose_the_message(tmp_path: Path) -> None:
    (tmp_path / "telem.proto").write_text(PROTO)
    schemas = load_schemas([tmp_path], routes={r"^/api/v\d+/heartbeat": "Heartbeat"})
    assert decode_protobuf(vint(1, 9), schemas=schemas, path="/api/v2/heartbeat?x=1") == {"seq": 9}
    # Without the route Heartbeat is also the best fit: Report's field 1 is a string.
    assert decode_protobuf(vint(1, 9), schemas=schemas, path="/api/other") == {"seq": 9}
    assert decode_protobuf(ld(1, VIN), schemas=schemas) == {"vin": VIN}


def test_no_message_fits_stays_schema_less() -> None:
    assert decode_protobuf(vint(50, 1), schemas=SCHEMAS) == {"50": 1}
    assert decode_protobuf(vint(1, 1), schemas=Schemas()) == {"1": 1}


def test_load_schemas_reads_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.proto").write_text('syntax = "proto3"; message A { string x = 1; }')
    (tmp_path / "b.proto").write_text('syntax = "proto3"; package p; message B { int32 y = 1; }')
    schemas = load_schemas([tmp_path / "a", str(tmp_path / "b.proto")])
    assert set(schemas.messages) == {"A", "p.B"}
    assert schemas.top_level == ("A", "p.B")


@pytest.mark.parametrize(
    "text, routes, message",
    [
        ("message {", {}, r"^bad\.proto:1:8: "),
        ('syntax = "proto3"; message A { string x = ; }', {}, r"^bad\.proto:1:\d+: "),
        ("message A { string x = 1; }", {"(": "A"}, r"^route '\(': "),
        ("message A { string x = 1; }", {"/x": "Nope"}, r"message 'Nope' is not in the schemas"),
        (
            "package p; message A { message C {} } message B { message C {} }",
            {"/x": "C"},
            r"message 'C' is ambiguous",
        ),
    ],
)
def test_schema_errors(text: str, routes: dict[str, str], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        schemas_from_text([("bad.proto", text)], routes)


def test_unreadable_schema_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="cannot read"):
        load_schemas([tmp_path / "missing.proto"])


# --- gRPC ---------------------------------------------------------------------------------


def test_grpc_frames() -> None:
    one, two = vint(1, 1), ld(2, VIN)
    body = grpc(one) + grpc(gzip.compress(two), flags=1) + grpc(b"grpc-status: 0\r\n", flags=0x80)
    assert grpc_frames(body) == [one, two]
    assert grpc_frames(grpc(zlib.compress(two), flags=1)) == [two]
    assert grpc_frames(base64.b64encode(grpc(one)), text=True) == [one]
    assert grpc_frames(b"") == []
    assert grpc_frames(grpc(b"")) == [b""]


@pytest.mark.parametrize(
    "body, text, message",
    [
        (b"\x00\x00\x00", False, "truncated frame header at byte 0"),
        (grpc(b"ab") + b"\x00\x00", False, "truncated frame header at byte 7"),
        (b"\x00\x00\x00\x00\x09abc", False, "frame of 9 bytes at byte 0 runs past the end"),
        (grpc(b"not gzip", flags=1), False, "deflate: corrupt stream"),
        (b"%%%", True, "grpc-web-text: invalid base64"),
    ],
)
def test_grpc_malformed(body: bytes, text: bool, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        grpc_frames(body, text=text)


def test_grpc_compressed_bomb_is_capped() -> None:
    bomb = grpc(gzip.compress(b"\x00" * (2 * 1024 * 1024)), flags=1)
    with pytest.raises(DecodeError, match="inflates beyond"):
        grpc_frames(bomb, limit=1024 * 1024)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_fuzz_grpc_frames(data: bytes, text: bool) -> None:
    try:
        frames = grpc_frames(data, text=text)
    except DecodeError:
        return
    assert all(isinstance(f, bytes) for f in frames)
