"""Teltonika handshake, AVL codecs 8/8E/16, codec 12/13/14 commands, UDP, notes and sniffing."""

from __future__ import annotations

import contextlib
import json
import random
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import teltonika
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import StreamError
from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document

from .tracker_checks import survives

SAMPLES = json.loads(
    (
        Path(__file__).resolve().parents[2] / "data" / "protocol_samples" / "teltonika.json"
    ).read_text()
)
IMEI = "356307042441013"
VIN = "WV1ZZZ2EZ86015388"
TIME = datetime(2024, 5, 17, 8, 30, 15, 250, tzinfo=UTC)
ICCID_19 = "8937204016201540007"
ICCID_20 = "89372040162010032180"


def crc_arc(data: bytes) -> int:
    """Bit-by-bit CRC-16/ARC (IBM), written independently of the decoder's library."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def handshake(imei: str = IMEI) -> bytes:
    return len(imei).to_bytes(2, "big") + imei.encode()


def packet(data: bytes, *, crc: int | None = None) -> bytes:
    checksum = crc_arc(data) if crc is None else crc
    return b"\0\0\0\0" + len(data).to_bytes(4, "big") + data + checksum.to_bytes(4, "big")


def record(
    codec: int,
    *,
    lat: float = 43.238949,
    lon: float = 76.889709,
    io: dict[int, int | bytes] | None = None,
    sizes: dict[int, int] | None = None,
    event: int = 0,
    ms: int = int(TIME.timestamp() * 1000),
) -> bytes:
    """One AVL record; ``io`` values are numbers (sized by ``sizes``, default 1) or NX bytes."""
    io = io or {}
    sizes = sizes or {}
    wide_ids = codec in (0x8E, 0x10)
    wide_counts = codec == 0x8E
    count = (lambda n: n.to_bytes(2, "big")) if wide_counts else (lambda n: bytes([n]))
    ident = (lambda n: n.to_bytes(2, "big")) if wide_ids else (lambda n: bytes([n]))
    out = (
        ms.to_bytes(8, "big")
        + b"\x01"
        + round(lon * 1e7).to_bytes(4, "big", signed=True)
        + round(lat * 1e7).to_bytes(4, "big", signed=True)
        + (-12).to_bytes(2, "big", signed=True)
        + (270).to_bytes(2, "big")
        + b"\x0b"
        + (64).to_bytes(2, "big")
        + ident(event)
    )
    if codec == 0x10:
        out += b"\x05"  # generation type: on change
    out += count(len(io))
    for size in (1, 2, 4, 8):
        group = {k: v for k, v in io.items() if isinstance(v, int) and sizes.get(k, 1) == size}
        out += count(len(group))
        for key, value in group.items():
            out += ident(key) + value.to_bytes(size, "big")
    if wide_counts:
        nx = {k: v for k, v in io.items() if isinstance(v, bytes)}
        out += count(len(nx))
        for key, raw in nx.items():
            out += key.to_bytes(2, "big") + len(raw).to_bytes(2, "big") + raw
    return out


def avl(codec: int, *records: bytes) -> bytes:
    return bytes([codec, len(records)]) + b"".join(records) + bytes([len(records)])


def command(codec: int, kind: int, payload: bytes) -> bytes:
    return bytes([codec, 1, kind]) + len(payload).to_bytes(4, "big") + payload + b"\x01"


def udp(data: bytes, imei: str = IMEI, packet_id: int = 0xCAFE, avl_id: int = 7) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x01" + bytes([avl_id]) + handshake(imei) + data
    return len(body).to_bytes(2, "big") + body


def decode(data: bytes, *, from_client: bool = True) -> list[Document]:
    return teltonika.Stream(from_client=from_client).feed(data)


def only_record(data: bytes) -> dict[str, Any]:
    [doc] = decode(packet(data))
    [rec] = doc.tree["records"]
    return rec


def categories(docs: list[Document]) -> set[Category]:
    return {hit.category for doc in docs for hit in detect(doc)}


def sample(protocol: str) -> dict[str, Any]:
    return next(s for s in SAMPLES["samples"] if s["protocol"] == protocol)


# --- checksum ---------------------------------------------------------------------------


def test_crc_matches_the_arc_check_value_and_an_independent_implementation() -> None:
    assert teltonika.crc16_ibm(b"123456789") == 0xBB3D
    rng = random.Random(8)
    for size in (0, 1, 7, 100, 500):
        data = rng.randbytes(size)
        assert teltonika.crc16_ibm(data) == crc_arc(data)


# --- real samples -----------------------------------------------------------------------


def test_real_handshake_sample() -> None:
    want = sample("Teltonika")["expected_fields"]
    [doc] = decode(bytes.fromhex(sample("Teltonika")["hex_or_text"]))
    assert doc.source == "teltonika.login"
    assert doc.tree == {"imei": want["handshake_imei"]}
    # traccar's made-up IMEI fails the Luhn check digit, so the detector rightly skips it;
    # a real one is found.
    assert categories([doc]) == set()
    assert categories(decode(handshake())) == {Category.IMEI}


def test_real_codec_8_sample() -> None:
    s = sample("Teltonika Codec 8")
    want = s["expected_fields"]
    [doc] = decode(bytes.fromhex(s["hex_or_text"]))
    assert doc.source == "teltonika.avl"
    assert doc.tree["codec"] == want["codec"].removeprefix("0x")
    assert len(doc.tree["records"]) == want["records"]
    [rec] = doc.tree["records"]
    assert rec["time"] == want["time_utc"]
    assert rec["position"]["lat"] == pytest.approx(want["lat"], abs=1e-7)
    assert rec["position"]["lon"] == pytest.approx(want["lon"], abs=1e-7)
    assert rec["speed_kmh"] == want["speed"]
    assert rec["gsm_operator"] == want["io_241_gsm_operator"]
    assert rec["cell"] == {
        "mcc": 232,
        "mnc": 1,
        "lac": want["io_206_lac"],
        "cell_id": want["io_205_cell_id"],
    }
    assert rec["io"]["external_voltage_mv"] == 14233 and rec["io"]["total_odometer_m"] == 2656224
    assert categories([doc]) == {Category.LOCATION, Category.CELL_LOCATION}


def test_real_codec_8e_sample() -> None:
    s = sample("Teltonika Codec 8E")
    want = s["expected_fields"]
    stream = teltonika.Stream()
    [doc] = stream.feed(bytes.fromhex(s["hex_or_text"]))
    assert stream.take_notes() == []
    assert doc.tree["codec"] == "8E"
    [rec] = doc.tree["records"]
    assert rec["time"] == want["time_utc"]
    assert rec["position"]["lat"] == pytest.approx(want["lat"], abs=1e-7)
    assert rec["position"]["lon"] == pytest.approx(want["lon"], abs=1e-7)
    assert rec["vin"] == want["io_256_vin"]
    assert rec["dtc"] == want["io_281_dtc"]
    assert rec["gsm_operator"] == want["io_241_gsm_operator"]
    assert "256" not in rec["io"] and "281" not in rec["io"]
    assert categories([doc]) == {Category.VIN, Category.LOCATION}


@pytest.mark.parametrize("sample", SAMPLES["samples"], ids=lambda s: s["protocol"])
def test_looks_like_real_samples(sample: dict[str, Any]) -> None:
    assert teltonika.looks_like(bytes.fromhex(sample["hex_or_text"]))


def test_real_samples_in_one_stream_split_everywhere() -> None:
    data = b"".join(bytes.fromhex(s["hex_or_text"]) for s in SAMPLES["samples"])
    whole = decode(data)
    assert [d.source for d in whole] == ["teltonika.login", "teltonika.avl", "teltonika.avl"]
    for cut in range(1, len(data)):
        stream = teltonika.Stream()
        assert stream.feed(data[:cut]) + stream.feed(data[cut:]) == whole


# --- generated AVL ----------------------------------------------------------------------


@pytest.mark.parametrize("codec", [0x08, 0x8E, 0x10])
def test_record_fields_for_each_codec(codec: int) -> None:
    io: dict[int, int | bytes] = {239: 1, 66: 12500, 16: 987654, 200: 2, 77: 0x0102030405060708}
    sizes = {66: 2, 16: 4, 77: 8}
    rec = only_record(avl(codec, record(codec, lat=-33.8688, lon=-70.6693, io=io, sizes=sizes)))
    assert rec["position"] == pytest.approx({"lat": -33.8688, "lon": -70.6693}, abs=1e-7)
    assert rec["time"] == "2024-05-17T08:30:15Z"
    assert (rec["altitude_m"], rec["angle"], rec["satellites"], rec["speed_kmh"]) == (
        -12,
        270,
        11,
        64,
    )
    assert rec["priority"] == "high"
    assert rec["io"] == {
        "ignition": 1,
        "external_voltage_mv": 12500,
        "total_odometer_m": 987654,
        "sleep_mode": 2,
        "77": 0x0102030405060708,
    }
    assert ("generation" in rec) == (codec == 0x10)


def test_codec_16_ids_above_255_and_generation() -> None:
    rec = only_record(
        avl(0x10, record(0x10, io={636: 987654321, 206: 321}, sizes={636: 4, 206: 2}))
    )
    assert rec["generation"] == "on change"
    assert rec["cell"] == {"lac": 321, "cell_id": 987654321, "radio": "lte"}


def test_milliseconds_and_out_of_range_times() -> None:
    rec = only_record(avl(8, record(8, ms=1_700_000_000_123)))
    assert rec["time"] == "2023-11-14T22:13:20.123Z"
    assert only_record(avl(8, record(8, ms=2**64 - 1)))["time"] is None


def test_several_records_in_one_packet() -> None:
    [doc] = decode(packet(avl(8, record(8, lat=1.5, lon=2.5), record(8, lat=3.5, lon=4.5))))
    assert [r["position"]["lat"] for r in doc.tree["records"]] == [1.5, 3.5]


def test_nx_values_are_text_when_printable_else_hex() -> None:
    rec = only_record(avl(0x8E, record(0x8E, io={385: b"\x01\xff", 400: b"hello"})))
    assert rec["io"] == {"385": "01ff", "400": "hello"}


def test_can_vin_and_ibutton() -> None:
    io: dict[int, int | bytes] = {325: VIN.encode(), 78: 0x1122334455667788}
    rec = only_record(avl(0x8E, record(0x8E, io=io, sizes={78: 8})))
    assert rec["vin"] == VIN and rec["driver_ibutton"] == "8877665544332211"
    assert rec["io"] == {}


@pytest.mark.parametrize(
    ("io", "iccid"),
    [
        ({11: int(ICCID_19)}, ICCID_19),
        ({11: int(ICCID_20[:10]), 14: int(ICCID_20[10:])}, ICCID_20),
        ({11: int(ICCID_20) >> 64, 14: int(ICCID_20) & (2**64 - 1)}, ICCID_20),
        ({11: int(ICCID_19), 14: 0}, ICCID_19),
        ({11: 123, 14: 456}, "123456"),
    ],
)
def test_iccid_from_io_11_and_14(io: dict[int, int | bytes], iccid: str) -> None:
    data = avl(8, record(8, io=io, sizes={11: 8, 14: 8}))
    rec = only_record(data)
    assert rec["iccid"] == iccid and rec["io"] == {}
    valid = iccid in (ICCID_19, ICCID_20)
    assert (Category.ICCID in categories(decode(packet(data)))) == valid


def test_operator_sent_as_variable_length_bytes() -> None:
    rec = only_record(avl(0x8E, record(0x8E, io={241: (40177).to_bytes(4, "big")})))
    assert rec["gsm_operator"] == 40177 and rec["cell"] == {"mcc": 401, "mnc": 77}


def test_operator_with_a_three_digit_mnc() -> None:
    rec = only_record(avl(8, record(8, io={241: 310260, 205: 77}, sizes={241: 4, 205: 2})))
    assert rec["cell"] == {"mcc": 310, "mnc": 260, "cell_id": 77}


# --- commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("setdigout 1", "set digital output (immobiliser relay)"),
        ("setdigout 0?", "set digital output (immobiliser relay)"),
        ("getgps", "request GPS position"),
        (
            "flush 356307042441013,internet,,,203.0.113.9,5027,0",
            "redirect device to another server",
        ),
        ("frobnicate", "text command"),
    ],
)
def test_server_codec_12_command_is_named(text: str, name: str) -> None:
    data = b"\x01" + b"\0\0\0\x02" + packet(command(0x0C, 0x05, text.encode()))
    docs = decode(data, from_client=False)
    assert [d.source for d in docs] == ["teltonika.down.command"]
    assert docs[0].tree == {"codec": "0C", "command": name, "text": text}


def test_server_stream_skips_acknowledgements() -> None:
    stream = teltonika.Stream(from_client=False)
    assert stream.feed(b"\x01\0\0\0\x01\0\0\0") == []
    assert stream.feed(b"\x05") == []
    [doc] = stream.feed(packet(command(0x0C, 0x05, b"getver")))
    assert doc.tree["command"] == "request firmware version"


def test_device_codec_12_response() -> None:
    text = b"DOUT1:1 DOUT2:0 DIN1:0"
    [doc] = decode(packet(command(0x0C, 0x06, text)))
    assert doc.source == "teltonika.response"
    assert doc.tree == {"codec": "0C", "text": text.decode()}


def test_device_codec_12_binary_response_is_hex() -> None:
    [doc] = decode(packet(command(0x0C, 0x06, b"\x00\x01\xfe")))
    assert doc.tree["data_hex"] == "0001fe"


def test_codec_13_response_has_a_time() -> None:
    payload = int(TIME.timestamp()).to_bytes(4, "big") + b"IMEI:356307042441013"
    [doc] = decode(packet(command(0x0D, 0x06, payload)))
    assert doc.tree["time"] == "2024-05-17T08:30:15Z"
    assert Category.IMEI in categories([doc])


def test_codec_14_command_and_nack_carry_the_imei() -> None:
    imei = bytes.fromhex("0" + IMEI)
    [down] = decode(b"\x01" + packet(command(0x0E, 0x05, imei + b"setdigout 1")), from_client=False)
    assert down.source == "teltonika.down.command"
    assert down.tree["imei"] == IMEI and down.tree["command"].startswith("set digital output")
    [nack] = decode(packet(command(0x0E, 0x11, imei)))
    assert nack.source == "teltonika.nack" and nack.tree == {
        "codec": "0E",
        "imei": IMEI,
        "nack": True,
    }
    assert categories([down, nack]) == {Category.IMEI, Category.REMOTE_CONTROL}


# --- UDP --------------------------------------------------------------------------------


def test_udp_datagram_with_the_real_codec_8_data() -> None:
    tcp = bytes.fromhex(sample("Teltonika Codec 8")["hex_or_text"])
    [doc] = teltonika.decode_udp(udp(tcp[8:-4]))
    assert doc.source == "teltonika.avl"
    assert (doc.tree["imei"], doc.tree["packet_id"], doc.tree["avl_packet_id"]) == (
        IMEI,
        0xCAFE,
        7,
    )
    assert doc.tree["records"][0]["position"]["lat"] == pytest.approx(48.1523066, abs=1e-7)
    assert categories([doc]) == {Category.IMEI, Category.LOCATION, Category.CELL_LOCATION}
    assert teltonika.looks_like_udp(udp(tcp[8:-4]))


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (b"", "truncated"),
        (b"\x00\x05\x00\x00\x01", "does not match"),
        (udp(avl(8, record(8)), imei="35630704244101X"), "not digits"),
        (udp(avl(8, record(8)))[:-3] + b"\x00\x00\x00", "truncated|differ|trailing"),
        (udp(avl(8, record(8)) + b"\x00"), "trailing"),
        (udp(b""), "no AVL data"),
        (udp(command(0x0C, 0x06, b"x")), "no AVL data"),
    ],
)
def test_udp_errors_are_decode_errors(datagram: bytes, message: str) -> None:
    fixed = datagram
    if len(datagram) > 2 and message != "does not match":
        fixed = (len(datagram) - 2).to_bytes(2, "big") + datagram[2:]
    with pytest.raises(DecodeError, match=message):
        teltonika.decode_udp(fixed)


# --- reassembly -------------------------------------------------------------------------

MIXED = (
    handshake()
    + packet(avl(8, record(8)))
    + b"\xff"
    + packet(avl(0x8E, record(0x8E, io={256: VIN.encode()})))
    + packet(command(0x0C, 0x06, b"OK"))
)


def test_several_packets_in_one_chunk_with_a_ping() -> None:
    assert [d.source for d in decode(MIXED)] == [
        "teltonika.login",
        "teltonika.avl",
        "teltonika.avl",
        "teltonika.response",
    ]


@pytest.mark.parametrize("cut", range(1, len(MIXED)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    stream = teltonika.Stream()
    assert stream.feed(MIXED[:cut]) + stream.feed(MIXED[cut:]) == decode(MIXED)
    assert stream.take_notes() == []


def test_byte_by_byte() -> None:
    stream = teltonika.Stream()
    docs = [doc for i in range(len(MIXED)) for doc in stream.feed(MIXED[i : i + 1])]
    assert docs == decode(MIXED)


# --- malformed input --------------------------------------------------------------------


def test_wrong_crc_is_a_note_and_the_packet_is_still_decoded() -> None:
    stream = teltonika.Stream()
    docs = stream.feed(packet(avl(8, record(8)), crc=0x1234) + packet(avl(8, record(8))))
    assert docs[0].tree["checksum_valid"] is False and "checksum_valid" not in docs[1].tree
    [note] = stream.take_notes()
    assert note.source == "teltonika.avl" and "CRC 00001234" in note.reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([8, 1]) + record(8) + bytes([2]), "record counts differ"),
        (bytes([8, 1]) + record(8)[:20] + bytes([1]), "truncated"),
        (avl(8, record(8)) + b"\x00", "trailing"),
        (bytes([0x07, 0, 0]), "codec 0x07 not decoded"),
        (command(0x0C, 0x06, b"x")[:-1] + b"\x02", "quantities differ"),
    ],
)
def test_content_errors_are_notes_and_decoding_goes_on(data: bytes, message: str) -> None:
    stream = teltonika.Stream()
    docs = stream.feed(packet(data) + packet(avl(8, record(8))))
    assert len(docs) == 1 and docs[0].source == "teltonika.avl"
    [note] = stream.take_notes()
    assert message in note.reason


def test_non_digit_handshake_is_a_note() -> None:
    stream = teltonika.Stream()
    assert stream.feed(handshake("35630704244101X")) == []
    assert "not digits" in stream.take_notes()[0].reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / HTTP/1.1\r\n", "neither an IMEI handshake"),
        (b"\0\0\0\x01\0\0\0\x05", "preamble"),
        (b"\0\0\x01", "preamble"),
        (b"\0\0\0\0\0\0\0\x02", "below the minimum"),
        (b"\0\0\0\0\x7f\xff\xff\xff", "exceeds"),
    ],
)
def test_framing_errors_raise_and_poison_the_stream(data: bytes, message: str) -> None:
    stream = teltonika.Stream()
    with pytest.raises(StreamError, match=message):
        stream.feed(data)
    with pytest.raises(DecodeError, match="already failed"):
        stream.feed(handshake())


def test_server_framing_error_and_documents_kept() -> None:
    with pytest.raises(StreamError, match="handshake answer"):
        teltonika.Stream(from_client=False).feed(b"\x07")
    with pytest.raises(StreamError) as info:
        teltonika.Stream().feed(handshake() + b"\0\0\0\x09")
    assert [d.tree["imei"] for d in info.value.documents] == [IMEI]


def test_truncated_packet_waits_for_more() -> None:
    stream = teltonika.Stream()
    data = packet(avl(8, record(8)))
    assert stream.feed(data[:-1]) == []
    assert len(stream.feed(data[-1:])) == 1


# --- sniffing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample", SAMPLES["other_protocols"], ids=lambda s: s["protocol"] + s["source"][-6:]
)
def test_does_not_look_like_other_protocols(sample: dict[str, Any]) -> None:
    text = sample["hex_or_text"]
    data = bytes.fromhex(text) if sample["encoding"] == "hex" else text.encode()
    assert not teltonika.looks_like(data)
    assert not teltonika.looks_like_udp(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x00\x0f", handshake()[:-1], handshake("12345"), b"\0\0\0\0\0\0\0\x10\x99"],
)
def test_does_not_look_like_short_or_wrong_starts(data: bytes) -> None:
    assert not teltonika.looks_like(data)


def test_random_bytes_rarely_look_like_teltonika() -> None:
    rng = random.Random(2025)
    blobs = [rng.randbytes(64) for _ in range(20_000)]
    assert sum(teltonika.looks_like(b) or teltonika.looks_like_udp(b) for b in blobs) == 0


# --- fuzzing ----------------------------------------------------------------------------


def _feed_all(chunks: list[bytes], *, from_client: bool) -> None:
    survives(partial(teltonika.Stream, from_client=from_client, max_frame=4096), chunks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6), st.booleans())
def test_random_bytes_only_raise_decode_error(chunks: list[bytes], from_client: bool) -> None:
    _feed_all(chunks, from_client=from_client)
    _feed_all([b"\0\0\0\0" + c if i == 0 else c for i, c in enumerate(chunks)], from_client=True)
    for chunk in chunks:
        with contextlib.suppress(DecodeError):
            teltonika.decode_udp(chunk)


VALID_DATA = [
    avl(8, record(8, io={1: 1, 66: 3, 11: 5}, sizes={66: 2, 11: 8})),
    avl(0x8E, record(0x8E, io={256: VIN.encode(), 241: 40177, 206: 1}, sizes={241: 4, 206: 2})),
    avl(0x10, record(0x10, io={636: 5}, sizes={636: 4})),
    command(0x0C, 0x05, b"setdigout 1"),
    command(0x0D, 0x06, b"\0\0\0\x01hello"),
    command(0x0E, 0x05, bytes(8) + b"getgps"),
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(VALID_DATA),
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_mutated_packets_only_raise_decode_error(
    data: bytes, edits: list[tuple[int, int]], from_client: bool
) -> None:
    mutated = bytearray(data)
    for at, value in edits:
        mutated[at % len(mutated)] = value
    prefix = handshake() if from_client else b"\x01"
    _feed_all([prefix + packet(bytes(mutated)), packet(data)], from_client=from_client)
    _feed_all([prefix + packet(data)[: len(mutated)] + bytes(mutated)], from_client=from_client)
    with contextlib.suppress(DecodeError):
        teltonika.decode_udp(udp(bytes(mutated)))
