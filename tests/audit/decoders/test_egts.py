"""EGTS transport, records and subrecords: identity, VIN, positions, commands, CRCs and errors.

Besides traccar's real frames (tests/data/protocol_samples/egts.json), frames are
GENERATED here from the public EGTS layout (GOST R 54619 / Order 285) by the small
encoder below, with checksums computed bit by bit independently of the decoder.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import egts
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.model import Category

from .tracker_checks import (
    categories,
    claims_only_its_own,
    decode,
    load_samples,
    mutated,
    sample_bytes,
    split_everywhere,
    survives,
)

SAMPLES = load_samples("egts")
IMEI = "864495034643376"
IMSI = "401771234567890"
MSISDN = "77011234567"
VIN = "XTA21099043576182"
NTM_2024 = 441_763_200  # 2024-01-01T00:00:00Z in seconds since 2010-01-01


def crc8(data: bytes) -> int:
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def packet(sfrd: bytes, *, packet_type: int = 1, pid: int = 7, flags: int = 0x00,
           route: bool = False) -> bytes:  # fmt: skip
    header = bytes([1, 0, flags | (0x20 if route else 0), 16 if route else 11, 0])
    header += struct.pack("<HHB", len(sfrd), pid, packet_type)
    if route:
        header += struct.pack("<HHB", 1, 2, 10)
    header += bytes([crc8(header)])
    return header + sfrd + (struct.pack("<H", crc16(sfrd)) if sfrd else b"")


def record(*subrecords: bytes, service: int = 2, number: int = 1, object_id: int | None = 42,
           time: int | None = None) -> bytes:  # fmt: skip
    body = b"".join(subrecords)
    flags = (0x01 if object_id is not None else 0) | (0x04 if time is not None else 0)
    head = struct.pack("<HHB", len(body), number, flags)
    if object_id is not None:
        head += struct.pack("<I", object_id)
    if time is not None:
        head += struct.pack("<I", time)
    return head + bytes([service, service]) + body


def sub(kind: int, data: bytes) -> bytes:
    return struct.pack("<BH", kind, len(data)) + data


def pos_data(lat: float, lon: float, *, altitude: int | None = None) -> bytes:
    flags = 0x01 | (0x20 if lat < 0 else 0) | (0x40 if lon < 0 else 0)
    speed = 605  # 60.5 km/h
    if altitude is not None:
        flags |= 0x80
        speed |= 0x4000 if altitude < 0 else 0
    body = struct.pack(
        "<IIIBHB", NTM_2024, round(abs(lat) / 90 * 0xFFFFFFFF), round(abs(lon) / 180 * 0xFFFFFFFF),
        flags, speed | 0x8000, 44,
    )  # fmt: skip
    body += (1234).to_bytes(3, "little") + bytes([0, 0])
    if altitude is not None:
        body += abs(altitude).to_bytes(3, "little")
    return sub(16, body)


def term_identity() -> bytes:
    flags = 0x02 | 0x04 | 0x40 | 0x80
    data = struct.pack("<IB", 1001, flags) + IMEI.encode() + IMSI.encode().ljust(16, b"\0")
    return sub(1, data + struct.pack("<H", 512) + MSISDN.encode().ljust(15, b"\0"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["source"].rsplit("#", 1)[1])
def test_real_frames(sample: dict[str, object]) -> None:
    expected = sample["expected_fields"]
    assert isinstance(expected, dict)
    (doc,) = split_everywhere(egts.Stream, sample_bytes(sample))
    assert doc.tree["packet_type"] == expected["packet_type"]
    if "lat" in expected:
        (rec,) = doc.tree["records"]
        (pos,) = rec["subrecords"]
        assert rec["object_id"] == expected["object_id"]
        assert pos["time"] == expected["time_utc"].replace(" ", "T") + "+00:00"
        assert pos["position"]["lat"] == pytest.approx(expected["lat"], abs=1e-5)
        assert pos["position"]["lon"] == pytest.approx(expected["lon"], abs=1e-5)
        assert categories([doc]) == {Category.LOCATION}
    if "imei" in expected:
        (ident,) = doc.tree["records"][0]["subrecords"]
        assert (ident["type"], ident["imei"]) == (expected["subrecord"], expected["imei"])
        assert ident["terminal_id"] == expected["terminal_id"]
        assert categories([doc]) == {Category.IMEI}
    if "response_to" in expected:
        assert (doc.tree["response_to"], doc.tree["result"]) == (
            expected["response_to"], expected["result"])  # fmt: skip


def test_real_frames_pass_the_independent_checksums() -> None:
    for sample in SAMPLES:
        frame = sample_bytes(sample)
        assert crc8(frame[:10]) == frame[10]
        fdl = int.from_bytes(frame[5:7], "little")
        assert crc16(frame[11 : 11 + fdl]) == int.from_bytes(frame[11 + fdl :], "little")


def test_terminal_identity() -> None:
    data = packet(record(term_identity(), service=1))
    (doc,) = split_everywhere(egts.Stream, data)
    (ident,) = doc.tree["records"][0]["subrecords"]
    assert (ident["imei"], ident["imsi"], ident["msisdn"]) == (IMEI, IMSI, MSISDN)
    assert (ident["terminal_id"], ident["buffer_size"]) == (1001, 512)
    assert doc.tree["records"][0]["service"] == "auth"
    assert categories([doc]) == {Category.IMEI, Category.IMSI, Category.PHONE}


@pytest.mark.parametrize(
    ("lat", "lon"), [(43.252057, 76.940535), (-43.252057, -76.940535), (51.1, -0.1)]
)
def test_position_hemispheres_and_scaling(lat: float, lon: float) -> None:
    (doc,) = decode(egts.Stream, packet(record(pos_data(lat, lon), time=NTM_2024)))[0]
    (rec,) = doc.tree["records"]
    (pos,) = rec["subrecords"]
    assert pos["position"] == pytest.approx({"lat": lat, "lon": lon}, abs=1e-6)
    assert pos["time"] == rec["time"] == "2024-01-01T00:00:00+00:00"
    assert (pos["speed_kmh"], pos["course"], pos["odometer_km"]) == (60.5, 300, 123.4)
    assert categories([doc]) == {Category.LOCATION}


def test_altitude_sign() -> None:
    frame = packet(record(pos_data(43.2, 76.9, altitude=-28), pos_data(43.2, 76.9, altitude=850)))
    (doc,) = decode(egts.Stream, frame)[0]
    assert [s["altitude"] for s in doc.tree["records"][0]["subrecords"]] == [-28, 850]


def test_vehicle_data_vin_and_auth_info_without_password() -> None:
    vehicle = sub(3, VIN.encode() + struct.pack("<II", 1, 2))
    auth = sub(5, b"driver7\x00s3cret\x00")
    (doc,) = decode(egts.Stream, packet(record(vehicle, auth, service=1)))[0]
    vin, info = doc.tree["records"][0]["subrecords"]
    assert vin["vin"] == VIN
    assert info == {"type": "auth_info", "username": "driver7", "password_present": True}
    assert "s3cret" not in repr(doc.tree)
    assert categories([doc]) == {Category.VIN, Category.CREDENTIALS}


def test_several_records_frames_and_routing() -> None:
    one = packet(record(pos_data(43.2, 76.9), number=1) + record(pos_data(43.3, 76.8), number=2))
    two = packet(record(term_identity(), service=1), pid=8, route=True)
    first, second = split_everywhere(egts.Stream, one + two)
    assert [r["record_number"] for r in first.tree["records"]] == [1, 2]
    assert second.tree["route"] == {"sender": 1, "recipient": 2}


def test_response_and_signed_packets() -> None:
    response = packet(struct.pack("<HB", 7, 0) + record(sub(0, struct.pack("<HB", 1, 0))),
                      packet_type=0)  # fmt: skip
    signed = packet(struct.pack("<H", 4) + b"SIGN" + record(pos_data(1.5, 2.5)), packet_type=2)
    resp, sig = decode(egts.Stream, response + signed)[0]
    assert (resp.source, resp.tree["response_to"]) == ("egts.response", 7)
    assert resp.tree["records"][0]["subrecords"][0]["confirmed_record"] == 1
    assert sig.tree["signed"] is True and "SIGN" not in repr(sig.tree)


def test_empty_packet_has_no_frame_checksum() -> None:
    (doc,) = decode(egts.Stream, packet(b""))[0]
    assert doc.tree["records"] == []


def test_command_from_the_server() -> None:
    body = bytes([0x50]) + struct.pack("<II", 77, 1) + bytes([0x01, 4]) + b"1234"
    body += struct.pack("<HB", 0, 0x08) + struct.pack("<H", 0x0113) + b"\x01"
    stream = egts.Stream(from_client=False)
    (doc,) = stream.feed(packet(record(sub(51, body), service=4)))
    (command,) = doc.tree["records"][0]["subrecords"]
    assert doc.source == "egts.down.appdata"
    assert command["command"] == "egts com"
    assert (command["command_id"], command["command_code"]) == (77, "0x0113")
    assert command["auth_code_present"] is True and "1234" not in repr(command)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (packet(record(pos_data(1, 2)))[:-1] + b"\x00", "checksum mismatch"),
        (packet(record(pos_data(1, 2)), flags=0x08), "encrypted"),
        (packet(record(pos_data(1, 2)), flags=0x04), "compressed"),
        (packet(record(sub(16, b"\x00" * 5))), "overruns"),
        (packet(record(sub(5, b"no terminator"), service=1)), "NUL"),
        (packet(record(pos_data(1, 2)), packet_type=9), "unknown packet type"),
    ],
)
def test_content_errors_are_notes(frame: bytes, reason: str) -> None:
    stream = egts.Stream()
    assert stream.feed(frame + packet(record(pos_data(3, 4))))[0].tree["packet_type"] == "appdata"
    (note,) = stream.take_notes()
    assert reason in note.reason


@pytest.mark.parametrize(
    "frame",
    [
        b"\x02" + packet(b"")[1:],  # protocol version 2
        packet(b"")[:3] + b"\x0c" + packet(b"")[4:],  # header length 12
        packet(b"")[:-1] + bytes([packet(b"")[-1] ^ 0xFF]),  # header CRC
        b"\x01\x00\xc0\x0b",  # prefix bits set
    ],
)
def test_framing_errors_poison_the_stream(frame: bytes) -> None:
    stream = egts.Stream()
    with pytest.raises(DecodeError):
        stream.feed(frame)
    with pytest.raises(DecodeError):
        stream.feed(packet(b""))


def test_absurd_length_is_refused() -> None:
    header = bytes([1, 0, 0, 11, 0]) + struct.pack("<HHB", 0xFFFF, 1, 1)
    with pytest.raises(DecodeError, match="exceeds"):
        egts.Stream(max_frame=1024).feed(header + bytes([crc8(header)]))


def test_looks_like() -> None:
    claims_only_its_own(egts.looks_like, egts.NAME, [*(sample_bytes(s) for s in SAMPLES)])


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=11, max_size=40))
def test_looks_like_random_bytes(data: bytes) -> None:
    if egts.looks_like(data):
        assert data[0] == 1 and crc8(data[: data[3] - 1]) == data[data[3] - 1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(egts.Stream, chunks)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 2))
def test_random_bodies_in_valid_packets(body: bytes, packet_type: int) -> None:
    survives(egts.Stream, [packet(body, packet_type=packet_type)])


VALID = [
    *(sample_bytes(s) for s in SAMPLES),
    packet(record(term_identity(), service=1)),
    packet(record(pos_data(-43.2, -76.9, altitude=-5), time=NTM_2024), route=True),
]


@settings(max_examples=300, deadline=None)
@given(mutated(VALID))
def test_mutated_frames_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(egts.Stream, chunks)
