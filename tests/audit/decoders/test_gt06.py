"""GT06 / Concox frame reassembly, message decoding, notes, sniffing and detection end to end."""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import gt06
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import StreamError
from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document

from .tracker_checks import survives

SAMPLES = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "protocol_samples" / "gt06.json").read_text()
)
IMEI = "864717003283581"
IMSI = "401771234567890"
ICCID = "89860117795950089298"


def crc_x25(data: bytes) -> int:
    """Bit-by-bit CRC-16/X-25, written independently of the decoder's library."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def frame(proto: int, content: bytes = b"", serial: int = 1, *, long: bool = False) -> bytes:
    length = 1 + len(content) + 2 + 2
    head = b"\x79\x79" + length.to_bytes(2, "big") if long else b"\x78\x78" + bytes([length])
    body = head[2:] + bytes([proto]) + content + serial.to_bytes(2, "big")
    return head[:2] + body + crc_x25(body).to_bytes(2, "big") + b"\r\n"


def bcd(digits: str, size: int) -> bytes:
    return bytes.fromhex(digits.rjust(size * 2, "0"))


def gps(lat: float, lon: float, *, speed: int = 40, course: int = 90, sats: int = 9) -> bytes:
    flags = 0x1000 | course  # positioned
    if lat >= 0:
        flags |= 0x0400
    if lon < 0:
        flags |= 0x0800
    return (
        bytes([24, 5, 17, 8, 30, 15, 0xC0 | sats])
        + round(abs(lat) * 1_800_000).to_bytes(4, "big")
        + round(abs(lon) * 1_800_000).to_bytes(4, "big")
        + bytes([speed])
        + flags.to_bytes(2, "big")
    )


def cell(mcc: int = 401, mnc: int = 1, lac: int = 4321, cell_id: int = 123456) -> bytes:
    if mnc > 255:
        head = (mcc | 0x8000).to_bytes(2, "big") + mnc.to_bytes(2, "big")
    else:
        head = mcc.to_bytes(2, "big") + bytes([mnc])
    return head + lac.to_bytes(2, "big") + cell_id.to_bytes(3, "big")


STATUS = bytes([0b1000_0110, 4, 3, 0x01, 0x02])  # fuel cut, ACC on, charging; SOS; English


def login(imei: str = IMEI, serial: int = 1) -> bytes:
    return frame(0x01, bcd("0" + imei, 8), serial)


def command(text: str, serial: int = 7) -> bytes:
    raw = text.encode()
    return frame(0x80, bytes([4 + len(raw)]) + b"\0\0\0\x2a" + raw + b"\x00\x02", serial)


def decode(data: bytes, *, from_client: bool = True) -> list[Document]:
    return gt06.Stream(from_client=from_client).feed(data)


def only(data: bytes, *, from_client: bool = True) -> dict[str, Any]:
    docs = decode(data, from_client=from_client)
    assert len(docs) == 1
    return docs[0].tree


def categories(docs: list[Document]) -> set[Category]:
    return {hit.category for doc in docs for hit in detect(doc)}


# --- checksum ---------------------------------------------------------------------------


def test_crc_matches_the_x25_check_value_and_an_independent_implementation() -> None:
    assert gt06.crc_itu(b"123456789") == 0x906E
    rng = random.Random(6)
    for size in (0, 1, 5, 40, 300):
        data = rng.randbytes(size)
        assert gt06.crc_itu(data) == crc_x25(data)


# --- real samples -----------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES["samples"], ids=lambda s: s["source"].rsplit("#")[-1])
def test_real_sample_decodes_to_the_values_it_states(sample: dict[str, Any]) -> None:
    stream = gt06.Stream()
    docs = stream.feed(bytes.fromhex(sample["hex_or_text"]))
    assert len(docs) == 1
    tree, want = docs[0].tree, sample["expected_fields"]
    assert int(tree["protocol"], 16) == int(want["proto"].split()[0], 16)
    if "imei" in want:
        assert docs[0].source == "gt06.login"
        assert tree["imei"] == want["imei"]
        assert tree["serial"] == want["serial"]
    if "lat" in want:
        assert docs[0].source == "gt06.location"
        assert tree["time"] == want["time_utc"].replace(" ", "T") + "Z"
        # The sample states degrees rounded to 5 or 6 decimals: compare at that precision.
        decimals = max(len(str(want["lat"]).split(".")[1]), len(str(want["lon"]).split(".")[1]))
        assert round(tree["position"]["lat"], decimals) == want["lat"]
        assert round(tree["position"]["lon"], decimals) == want["lon"]
        assert tree["cell"] == {k: want[k] for k in ("mcc", "mnc", "lac", "cell_id")}


def test_real_location_sample_matches_micro_degrees() -> None:
    sample = SAMPLES["samples"][1]
    tree = only(bytes.fromhex(sample["hex_or_text"]))
    assert tree["position"]["lat"] == pytest.approx(54.945347, abs=1e-6)
    assert tree["position"]["lon"] == pytest.approx(24.017622, abs=1e-6)
    assert (tree["satellites"], tree["gps_fixed"], tree["course"]) == (5, True, 0)


def test_vendor_document_example_has_a_wrong_crc_and_is_decoded_with_a_note() -> None:
    stream = gt06.Stream()
    docs = stream.feed(bytes.fromhex(SAMPLES["samples"][2]["hex_or_text"]))
    assert docs[0].tree["checksum_valid"] is False
    assert docs[0].tree["position"]["lat"] == pytest.approx(23.111668, abs=1e-6)
    assert docs[0].tree["position"]["lon"] == pytest.approx(114.409285, abs=1e-6)
    [note] = stream.take_notes()
    assert note.source == "gt06.location" and "CRC 8081" in note.reason


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, {Category.IMEI}),
        (1, {Category.LOCATION, Category.CELL_LOCATION}),
        (2, {Category.LOCATION, Category.CELL_LOCATION}),
    ],
)
def test_real_samples_yield_personal_data_hits(index: int, expected: set[Category]) -> None:
    docs = decode(bytes.fromhex(SAMPLES["samples"][index]["hex_or_text"]))
    assert categories(docs) == expected


# --- generated messages -----------------------------------------------------------------


def test_login_with_model_and_time_zone() -> None:
    tree = only(frame(0x01, bcd("0" + IMEI, 8) + b"\x36\x05" + (500 << 4 | 0x8).to_bytes(2)))
    assert tree == {
        "protocol": "0x01",
        "imei": IMEI,
        "model_code": "3605",
        "timezone": "-05:00",
        "serial": 1,
    }


@pytest.mark.parametrize(
    ("lat", "lon"), [(43.238949, 76.889709), (-33.8688, 151.2093), (40.7128, -74.006)]
)
def test_location_applies_hemisphere_bits(lat: float, lon: float) -> None:
    tree = only(frame(0x12, gps(lat, lon) + cell()))
    assert tree["position"]["lat"] == pytest.approx(lat, abs=1e-6)
    assert tree["position"]["lon"] == pytest.approx(lon, abs=1e-6)
    assert tree["time"] == "2024-05-17T08:30:15Z"
    assert (tree["speed_kmh"], tree["course"], tree["satellites"]) == (40, 90, 9)
    assert tree["cell"] == {"mcc": 401, "mnc": 1, "lac": 4321, "cell_id": 123456}


def test_location_0x22_with_flags_mileage_and_a_three_digit_mnc() -> None:
    content = gps(51.1694, 71.4491) + cell(mnc=310) + b"\x01\x02\x00" + (98765).to_bytes(4)
    tree = only(frame(0x22, content))
    assert tree["protocol"] == "0x22"
    assert tree["cell"]["mnc"] == 310 and tree["cell"]["mcc"] == 401
    assert (tree["acc"], tree["upload_mode"], tree["reupload"]) == (True, 2, False)
    assert tree["mileage"] == 98765


def test_invalid_date_becomes_no_time() -> None:
    content = bytearray(gps(51.0, 71.0) + cell())
    content[1] = 13  # month 13
    assert only(frame(0x12, bytes(content)))["time"] is None


@pytest.mark.parametrize("proto", [0x16, 0x26, 0x27])
def test_alarm_with_lbs_length_and_status(proto: int) -> None:
    tree = only(frame(proto, gps(43.25, 76.95) + b"\x09" + cell() + STATUS))
    assert tree["cell"]["cell_id"] == 123456
    assert tree["alarm"] == "sos"
    assert tree["fuel_cut"] is True and tree["ignition"] is True and tree["charging"] is True
    assert (tree["voltage_level"], tree["gsm_signal"], tree["language"]) == (4, 3, 2)


def test_alarm_without_lbs() -> None:
    tree = only(frame(0x16, gps(43.25, 76.95) + b"\x00" + STATUS))
    assert "cell" not in tree and tree["alarm"] == "sos"


def test_lbs_alarm_and_heartbeat() -> None:
    tree = only(frame(0x19, cell(lac=7, cell_id=8) + STATUS))
    assert tree["cell"] == {"mcc": 401, "mnc": 1, "lac": 7, "cell_id": 8}
    beat = only(frame(0x13, bytes([0b0001_1001, 6, 4, 0, 2])))
    assert beat["armed"] is True and beat["terminal_alarm"] == "low battery"
    assert beat["fuel_cut"] is False and "alarm" not in beat


def test_info_0x94_carries_imei_imsi_and_iccid() -> None:
    content = b"\x0a" + bcd("0" + IMEI, 8) + bcd("0" + IMSI, 8) + bytes.fromhex(ICCID)
    tree = only(frame(0x94, content, long=True))
    assert (tree["imei"], tree["imsi"], tree["iccid"]) == (IMEI, IMSI, ICCID)
    docs = decode(frame(0x94, content, long=True))
    assert categories(docs) == {Category.IMEI, Category.IMSI, Category.ICCID}


def test_info_0x94_strips_the_filler_of_a_19_digit_iccid() -> None:
    content = (
        b"\x0a" + bcd("0" + IMEI, 8) + bcd("0" + IMSI, 8) + bytes.fromhex("8937204016201540007f")
    )
    assert only(frame(0x94, content, long=True))["iccid"] == "8937204016201540007"


def test_info_0x94_other_subtypes() -> None:
    assert only(frame(0x94, b"\x00\x04\xd2", long=True))["external_voltage"] == 12.34
    assert only(frame(0x94, b"\x04ALM1=C4;STA1=40", long=True))["text"] == "ALM1=C4;STA1=40"
    assert only(frame(0x94, b"\x0b\x02\xe3", long=True))["data_hex"] == "02e3"


def test_command_replies() -> None:
    text = b"Relay,1 OK"
    tree = only(frame(0x15, bytes([4 + len(text)]) + b"\0\0\0\x2a" + text + b"\x00\x02"))
    assert tree["text"] == "Relay,1 OK" and tree["server_flag"] == 42
    iccid = b"<ICCID:" + ICCID.encode() + b">"
    assert only(frame(0x15, bytes([4 + len(iccid)]) + b"\0\0\0\0" + iccid))["iccid"] == ICCID
    assert only(frame(0x21, b"\0\0\0\x01\x01" + b"OK!"))["text"] == "OK!"
    assert only(frame(0x21, b"\0\0\0\x01\x02" + "Да".encode("utf-16-be")))["text"] == "Да"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("RELAY,1#", "relay (cut fuel/power)"),
        ("Relay,0#", "relay (restore fuel/power)"),
        ("DYD,000000#", "relay (cut fuel/power)"),
        ("HFYD,000000#", "relay (restore fuel/power)"),
        ("SERVER,1,evil.example,7700,0#", "change server address"),
        ("WHERE#", "request position"),
        ("FOO,1#", "text command"),
    ],
)
def test_server_command_is_named(text: str, name: str) -> None:
    docs = decode(command(text), from_client=False)
    assert [d.source for d in docs] == ["gt06.down.command"]
    assert docs[0].tree["command"] == name and docs[0].tree["text"] == text


def test_sos_command_phone_numbers_are_found() -> None:
    docs = decode(command("SOS,A,+77012345678,+77017654321#"), from_client=False)
    assert docs[0].tree["phone"] == ["+77012345678", "+77017654321"]
    assert categories(docs) == {Category.PHONE, Category.REMOTE_CONTROL}


def test_server_acknowledgements_are_silent_and_unknown_server_messages_are_notes() -> None:
    stream = gt06.Stream(from_client=False)
    assert stream.feed(frame(0x01, b"", 1) + frame(0x13, b"", 2)) == []
    assert stream.take_notes() == []
    assert stream.feed(frame(0x8A, b"\x18\x05\x11\x08\x1e\x0f")) == []
    [note] = stream.take_notes()
    assert note.source == "gt06.down.0x8a"


# --- reassembly -------------------------------------------------------------------------

MIXED = (
    login()
    + frame(0x12, gps(43.238949, 76.889709) + cell(), 2)
    + frame(0x13, STATUS, 3)
    + frame(
        0x94, b"\x0a" + bcd("0" + IMEI, 8) + bcd("0" + IMSI, 8) + bytes.fromhex(ICCID), 4, long=True
    )
)


def test_several_frames_in_one_chunk() -> None:
    docs = decode(MIXED)
    assert [d.source for d in docs] == ["gt06.login", "gt06.location", "gt06.status", "gt06.info"]
    assert [d.tree["serial"] for d in docs] == [1, 2, 3, 4]


@pytest.mark.parametrize("cut", range(1, len(MIXED)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    stream = gt06.Stream()
    docs = stream.feed(MIXED[:cut]) + stream.feed(MIXED[cut:])
    assert docs == decode(MIXED)
    assert stream.take_notes() == []


def test_byte_by_byte() -> None:
    stream = gt06.Stream()
    docs = [doc for i in range(len(MIXED)) for doc in stream.feed(MIXED[i : i + 1])]
    assert docs == decode(MIXED)


# --- malformed input --------------------------------------------------------------------


def test_truncated_frame_waits_for_more() -> None:
    stream = gt06.Stream()
    assert stream.feed(login()[:-1]) == []
    assert stream.feed(b"\n")[0].tree["imei"] == IMEI


def test_wrong_crc_is_a_note_and_decoding_goes_on() -> None:
    bad = bytearray(login(serial=5))
    bad[-3] ^= 0xFF
    stream = gt06.Stream()
    docs = stream.feed(bytes(bad) + frame(0x13, STATUS, 6))
    assert docs[0].tree["checksum_valid"] is False
    assert docs[1].source == "gt06.status" and "checksum_valid" not in docs[1].tree
    [note] = stream.take_notes()
    assert "does not match" in note.reason and stream.take_notes() == []


def test_truncated_content_and_unknown_protocol_are_notes() -> None:
    stream = gt06.Stream()
    docs = stream.feed(frame(0x12, gps(1.0, 2.0)[:10]) + frame(0x55, b"\x01\x02") + login())
    assert [d.source for d in docs] == ["gt06.login"]
    reasons = [n.reason for n in stream.take_notes()]
    assert "truncated" in reasons[0] and "0x55 not decoded" in reasons[1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / HTTP/1.1\r\n", "not 7878/7979"),
        (b"\x78\x79\x05\x01", "not 7878/7979"),
        (b"\x78\x78\x04\x01\x00\x01\x00\x00\x0d\x0a", "below the minimum"),
        (login()[:-2] + b"\x0d\x0b", "does not end in 0D0A"),
        (b"\x79\x79\xff\xff\x01", "exceeds"),
    ],
)
def test_framing_errors_raise_and_poison_the_stream(data: bytes, message: str) -> None:
    stream = gt06.Stream(max_frame=4096)
    with pytest.raises(StreamError, match=message):
        stream.feed(data)
    with pytest.raises(DecodeError, match="already failed"):
        stream.feed(login())


def test_stream_error_keeps_documents_decoded_before_it() -> None:
    with pytest.raises(StreamError) as info:
        gt06.Stream().feed(login() + b"\x00garbage")
    assert [d.tree["imei"] for d in info.value.documents] == [IMEI]


def test_server_command_with_a_short_length_is_a_note() -> None:
    stream = gt06.Stream(from_client=False)
    assert stream.feed(frame(0x80, b"\x02\x00\x00")) == []
    assert "below 4" in stream.take_notes()[0].reason


# --- sniffing ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES["samples"], ids=lambda s: s["source"].rsplit("#")[-1])
def test_looks_like_real_samples(sample: dict[str, Any]) -> None:
    assert gt06.looks_like(bytes.fromhex(sample["hex_or_text"]))


@pytest.mark.parametrize(
    "data", [login(), login()[:4], MIXED, frame(0x94, b"\x00\x01\x02", long=True)]
)
def test_looks_like_generated_frames(data: bytes) -> None:
    assert gt06.looks_like(data)


@pytest.mark.parametrize(
    "sample", SAMPLES["other_protocols"], ids=lambda s: s["protocol"] + s["source"][-6:]
)
def test_does_not_look_like_other_protocols(sample: dict[str, Any]) -> None:
    text = sample["hex_or_text"]
    assert not gt06.looks_like(
        bytes.fromhex(text) if sample["encoding"] == "hex" else text.encode()
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"\x78", b"\x78\x78", b"\x78\x78\x05", b"\x78\x78\x0d\x99", login()[:-2] + b"\x00\x00"],
)
def test_does_not_look_like_short_or_wrong_frames(data: bytes) -> None:
    assert not gt06.looks_like(data)


def test_random_bytes_rarely_look_like_gt06() -> None:
    rng = random.Random(2024)
    assert sum(gt06.looks_like(rng.randbytes(64)) for _ in range(20_000)) == 0


# --- fuzzing ----------------------------------------------------------------------------


def _feed_all(chunks: list[bytes], *, from_client: bool) -> None:
    survives(partial(gt06.Stream, from_client=from_client, max_frame=2048), chunks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6), st.booleans())
def test_random_bytes_only_raise_decode_error(chunks: list[bytes], from_client: bool) -> None:
    _feed_all(
        [b"\x78\x78" + c if i == 0 else c for i, c in enumerate(chunks)], from_client=from_client
    )
    _feed_all(chunks, from_client=from_client)


VALID = [
    login(),
    frame(0x12, gps(43.2, 76.9) + cell()),
    frame(0x22, gps(43.2, 76.9) + cell() + b"\x01\x00\x00"),
    frame(0x16, gps(43.2, 76.9) + b"\x09" + cell() + STATUS),
    frame(0x19, cell() + STATUS),
    frame(0x13, STATUS),
    frame(
        0x94, b"\x0a" + bcd("0" + IMEI, 8) + bcd("0" + IMSI, 8) + bytes.fromhex(ICCID), long=True
    ),
    frame(0x15, b"\x06\0\0\0\0OK"),
    frame(0x21, b"\0\0\0\0\x02\x00"),
    command("RELAY,1#"),
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_mutated_frames_only_raise_decode_error(
    valid: bytes, edits: list[tuple[int, int]], from_client: bool
) -> None:
    data = bytearray(valid)
    for at, value in edits:
        data[at % len(data)] = value
    _feed_all([bytes(data), valid], from_client=from_client)
    # The same bytes fixed up with a correct CRC reach the content decoders.
    body = bytes(data[2:-4])
    _feed_all(
        [bytes(data[:2]) + body + crc_x25(body).to_bytes(2, "big") + b"\r\n"],
        from_client=from_client,
    )
