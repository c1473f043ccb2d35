"""MessagePack and CBOR bodies: plain trees, and bounded against hostile lengths and nesting."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from typing import Any

import cbor2
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders.binary_formats import decode_cbor, decode_msgpack
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.tree import MAX_NESTING, MAX_VALUES

VIN = "LGHC4V1D9HE204406"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
SAMPLE = {"vin": VIN, "pos": {"lat": 43.238949, "lon": 76.889709}, "n": [1, -2, 3.5, None, True]}


# --- msgpack ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (SAMPLE, SAMPLE),
        (
            {1: "a", b"key": "b", 2.5: "c", None: "d", False: "e"},
            {"1": "a", "key": "b", "2.5": "c", "None": "d", "False": "e"},
        ),
        ({"t": b"plain text"}, {"t": "plain text"}),
        ({"b": b"\x00\x01\xfe"}, {"b": "0001fe"}),
        (
            {"img": PNG},
            {
                "img": {
                    "filename": None,
                    "content_type": "image/png",
                    "size": len(PNG),
                    "media": "image",
                    "sha256": hashlib.sha256(PNG).hexdigest(),
                }
            },
        ),
        ({"e": msgpack.ExtType(7, b"\x01\x02")}, {"e": "0102"}),  # extension code dropped
        ({"t": msgpack.Timestamp(1_700_000_000)}, {"t": "2023-11-14T22:13:20+00:00"}),
        (42, 42),
        ([], []),
    ],
)
def test_msgpack_values(value: Any, expected: Any) -> None:
    assert decode_msgpack(msgpack.packb(value)) == expected


def test_msgpack_array_key_and_sequence() -> None:
    packed = b"\x81\x92\x01\x02\xa1x"  # {[1, 2]: "x"}
    assert decode_msgpack(packed) == {"[1, 2]": "x"}
    assert decode_msgpack(msgpack.packb({"a": 1}) + msgpack.packb("b")) == [{"a": 1}, "b"]
    assert decode_msgpack(b"") == {}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xdd\xff\xff\xff\xff", "exceeds max_array_len"),  # array32 of 4 billion
        (b"\xdf\xff\xff\xff\xff", "exceeds max_map_len"),  # map32 of 4 billion
        (b"\xdb\xff\xff\xff\xff" + b"a" * 10, "truncated value at byte 0"),  # str32, 4 GB
        (b"\xc6\x7f\xff\xff\xff" + b"a" * 10, "truncated value at byte 0"),  # bin32, 2 GB
        (b"\x92\x01", "truncated value at byte 0"),
        (msgpack.packb(1) + b"\x92\x01", "truncated value at byte 1"),
        (b"\xc1", "msgpack: "),  # never used
        (b"\x91" * 5000 + b"\x01", "msgpack: "),  # nesting beyond the unpacker's stack
        (b"\x91" * (MAX_NESTING + 1) + b"\x01", f"nested deeper than {MAX_NESTING}"),
        (msgpack.packb([[0] * 1000] * 101), f"more than {MAX_VALUES} values"),
        (b"\xdc\xff\xff" + b"\xc0" * 0xFFFF, "exceeds max_array_len|"),
    ],
)
def test_msgpack_hostile(data: bytes, message: str) -> None:
    if message.endswith("|"):  # 65535 nils fit the caps: decoded, and quickly
        assert decode_msgpack(data) == [None] * 0xFFFF
        return
    with pytest.raises(DecodeError, match=message):
        decode_msgpack(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_msgpack(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_msgpack(data)


# --- CBOR ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (SAMPLE, SAMPLE),
        ({1: VIN, -2: b"\xde\xad"}, {"1": VIN, "-2": "dead"}),  # COSE-style integer keys
        ({b"\x00\xff": "x"}, {"00ff": "x"}),
        ({"d": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)}, {"d": "2024-05-01T12:00:00+00:00"}),
        ({"d": dt.date(2024, 5, 1)}, {"d": "2024-05-01"}),
        ({"tag": cbor2.CBORTag(40000, {"vin": VIN})}, {"tag": {"vin": VIN}}),  # tag ignored
        ({"big": 2**100}, {"big": 2**100}),
        ({"huge": 2**200}, {"huge": hex(2**200)}),
        ({"s": {1, 2}}, {"s": [1, 2]}),
        ({"u": cbor2.undefined, "v": cbor2.CBORSimpleValue(99)}, {"u": None, "v": 99}),
        ({(1, 2): "tuple key"}, {"[1, 2]": "tuple key"}),
    ],
)
def test_cbor_values(value: Any, expected: Any) -> None:
    assert decode_cbor(cbor2.dumps(value)) == expected


def test_cbor_sequence_and_empty() -> None:
    assert decode_cbor(cbor2.dumps({"a": 1}) + cbor2.dumps([2])) == [{"a": 1}, [2]]
    assert decode_cbor(b"") == {}


def test_cbor_megabyte_bignum_is_not_stringified() -> None:
    data = b"\xc2\x5a\x00\x10\x00\x00" + b"\xff" * 0x100000  # tag 2, 1 MiB of 0xff
    value = decode_cbor(data)
    assert isinstance(value, str) and value.startswith("0xffff") and len(value) == 2 * 0x100000 + 2


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x9b\x7f\xff\xff\xff\xff\xff\xff\xff", "premature end of stream"),  # 2**63 items
        (b"\xbb\x7f\xff\xff\xff\xff\xff\xff\xff", "premature end of stream"),  # map
        (b"\x5b\x7f\xff\xff\xff\xff\xff\xff\xff", "premature end of stream"),  # 8 EB of bytes
        (b"\x7a\xff\xff\xff\xff" + b"a" * 10, "premature end of stream"),  # 4 GB of text
        (b"\x9f\x01\x02", "premature end of stream"),  # indefinite array, no break
        (b"\x81" * 1000 + b"\x00", "nesting depth"),
        (b"\x81" * (MAX_NESTING - 1) + b"\xd9\x9c\x40" * 200 + b"\x00", "nested deeper|depth"),
        (bytes([0xD8, 28, 0x81, 0xD8, 29, 0x00]), "cyclic shared reference"),  # [itself]
        (b"\xff", "break code"),
        (b"\x1c", "CBOR: "),  # reserved additional information
        (cbor2.dumps([[0] * 1000] * 101), f"more than {MAX_VALUES} values"),
    ],
)
def test_cbor_hostile(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_cbor(data)


def test_cbor_shared_value_repeated_is_bounded() -> None:
    # One 1000-item list shared 200 times: 200,000 values once expanded.
    body = (
        b"\x98\xc8"
        + bytes([0xD8, 28])
        + cbor2.dumps(list(range(1000)))
        + bytes([0xD8, 29, 0x00]) * 199
    )
    with pytest.raises(DecodeError, match=f"more than {MAX_VALUES} values"):
        decode_cbor(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_cbor(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_cbor(data)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)  # what msgpack can encode
        | st.floats()
        | st.text()
        | st.binary(),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
        max_leaves=30,
    ),
    st.integers(0, 4),
)
def test_fuzz_well_formed_then_truncated(value: Any, cut: int) -> None:
    for encode, decode in ((msgpack.packb, decode_msgpack), (cbor2.dumps, decode_cbor)):
        data = encode(value)
        decode(data)  # well-formed input never fails
        with contextlib.suppress(DecodeError):
            decode(data[: max(0, len(data) - cut)])
