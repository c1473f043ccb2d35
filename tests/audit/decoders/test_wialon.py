"""Wialon IPS 1.1/2.0 packets: logins, data, black box, CRC16, server messages and errors.

Besides traccar's real packets (tests/data/protocol_samples/wialon.json), packets are
GENERATED here from the Wialon IPS 2.0 text layout, with CRC-16/ARC computed bit by bit
independently of the decoder.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import wialon
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

SAMPLES = load_samples("wialon")
IMEI = "864495034643376"
DATA_BODY = "170524;083015;4315.1234;N;07656.4321;E;60;270;850;9"


def crc_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0xA001
    return crc


def v2(kind: str, body: str) -> bytes:
    """A 2.0 packet: the CRC covers the body up to and including its last ';'."""
    body += ";"
    return f"#{kind}#{body}{crc_arc(body.encode()):04X}\r\n".encode()


def v1(kind: str, body: str) -> bytes:
    return f"#{kind}#{body}\r\n".encode()


def line(sample: dict[str, object]) -> bytes:
    return sample_bytes(sample) + b"\r\n"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["source"].rsplit("#", 1)[1])
def test_real_packets(sample: dict[str, object]) -> None:
    expected = sample["expected_fields"]
    assert isinstance(expected, dict)
    (doc,) = split_everywhere(wialon.Stream, line(sample))
    tree = doc.tree
    if "points" in expected:
        assert len(tree["points"]) == expected["points"]
        tree = tree["points"][0]
    if "lat" in expected:
        assert tree["position"]["lat"] == pytest.approx(expected["lat"], abs=1e-5)
        assert tree["position"]["lon"] == pytest.approx(expected["lon"], abs=1e-5)
        assert categories([doc]) == {Category.LOCATION}
    if "time_utc" in expected:
        assert tree["time"] == expected["time_utc"].replace(" ", "T") + "+00:00"
    if "params" in expected:
        assert tree["params"] == expected["params"]
    if "device_id" in expected:
        assert tree["device_id"] == expected["device_id"]
        assert tree["password_present"] is expected["password_present"]


def test_real_packet_crcs_match_the_independent_crc() -> None:
    for sample in SAMPLES[1:3]:
        body, crc = sample["hex_or_text"].split("#", 2)[2].rsplit(";", 1)
        assert crc_arc((body + ";").encode()) == int(crc, 16)


def test_real_login_with_a_wrong_crc_is_decoded_and_noted() -> None:
    documents, notes = decode(wialon.Stream, line(SAMPLES[4]))
    assert documents[0].tree["device_id"] == "42001300083"
    assert [n.reason for n in notes] == ["wialon: L packet CRC16 mismatch (decoded anyway)"]


def test_v2_session_login_data_ping_black_box() -> None:
    data = (
        v2("L", f"2.0;{IMEI};s3cret")
        + v2("SD", DATA_BODY)
        + v2("D", DATA_BODY + ";0.8;1;0;12.5,3.3;NA;fuel:2:45.8,driver:3:Aigerim,SOS:1:0")
        + b"#P#\r\n"
    )
    login, short, extended, ping = split_everywhere(wialon.Stream, data)
    assert login.tree == {"message_type": "L", "protocol_version": "2.0", "device_id": IMEI,
                          "imei": IMEI, "password_present": True}  # fmt: skip
    assert "s3cret" not in repr(login.tree)
    assert short.tree["position"] == pytest.approx({"lat": 43.252057, "lon": 76.940535}, abs=1e-6)
    assert short.tree["time"] == "2024-05-17T08:30:15+00:00"
    assert (short.tree["speed_kmh"], short.tree["satellites"]) == (60, 9)
    assert extended.tree["params"] == {"fuel": 45.8, "driver": "Aigerim", "SOS": 0}
    assert (extended.tree["hdop"], extended.tree["adc"]) == (0.8, "12.5,3.3")
    assert ping.tree == {"message_type": "P"}
    assert categories([login]) == {Category.IMEI, Category.CREDENTIALS}


def test_v2_crc_mismatch_is_noted_but_decoded() -> None:
    stream = wialon.Stream()
    stream.feed(v2("L", f"2.0;{IMEI};NA"))
    bad = v2("SD", DATA_BODY).replace(b"4315", b"4316")
    (doc,) = stream.feed(bad)
    assert doc.tree["position"]["lat"] == pytest.approx(43.268724, abs=1e-6)
    assert [n.reason for n in stream.take_notes()] == [
        "wialon: SD packet CRC16 mismatch (decoded anyway)"
    ]


@pytest.mark.parametrize(
    ("ns", "ew", "lat", "lon"),
    [("N", "E", 43.252057, 76.940535), ("S", "W", -43.252057, -76.940535)],
)
def test_hemispheres(ns: str, ew: str, lat: float, lon: float) -> None:
    body = DATA_BODY.replace(";N;", f";{ns};").replace(";E;", f";{ew};")
    (doc,) = decode(wialon.Stream, v1("SD", body))[0]
    assert doc.tree["position"] == pytest.approx({"lat": lat, "lon": lon}, abs=1e-6)


def test_no_fix_fields_are_left_out() -> None:
    (doc,) = decode(wialon.Stream, v1("SD", "NA;NA;NA;NA;NA;NA;NA;NA;NA;NA"))[0]
    assert doc.tree == {"message_type": "SD"}


def test_black_box_v1_and_v2() -> None:
    packed = f"{DATA_BODY}|{DATA_BODY.replace('083015', '083020')}"
    crc = crc_arc((packed + "|").encode())
    data = v1("B", packed) + f"#B#{packed}|{crc:04X}\r\n".encode()
    first, second = split_everywhere(wialon.Stream, data)
    assert len(first.tree["points"]) == len(second.tree["points"]) == 2
    assert second.tree["points"][1]["time"] == "2024-05-17T08:30:20+00:00"
    assert categories([second]) == {Category.LOCATION}
    stream = wialon.Stream()
    stream.feed(f"#B#{packed}|0000\r\n".encode())
    assert "not verified" in stream.take_notes()[0].reason


def test_cells_from_params_and_udp_prefix() -> None:
    params = "mcc1:1:401,mnc1:1:1,lac1:1:5901,cell_id1:1:45542"
    body = "NA;NA;NA;NA;NA;NA;NA;NA;NA;NA;NA;NA;NA;;NA;" + params
    (doc,) = decode(wialon.Stream, f"2.0;{IMEI}#D#".encode() + v1("D", body)[3:])[0]
    assert doc.tree["cells"] == [{"mcc": 401, "mnc": 1, "lac": 5901, "cell_id": 45542}]
    assert doc.tree["imei"] == IMEI


def test_photo_packet_carries_a_binary_body() -> None:
    photo = bytes(range(256)) * 2 + b"\r\n#P#"
    data = f"#I#{len(photo)};0;1;170524;083015;img.jpg\r\n".encode() + photo + b"\r\n#P#\r\n"
    image, ping = split_everywhere(wialon.Stream, data)
    assert (image.tree["binary_bytes"], image.tree["photo_name"]) == (len(photo), "img.jpg")
    assert ping.tree["message_type"] == "P"


def test_server_direction() -> None:
    stream = wialon.Stream(from_client=False)
    answer, message, upload = stream.feed(
        b"#AL#1\r\n#M#Please call the office;1234\r\n#US#4\r\n\x00\x01\x02\x03"
    )
    assert (answer.tree["answer"], answer.tree["result"]) == ("answer to login", "1")
    assert message.source == "wialon.down.m"
    assert (message.tree["command"], message.tree["message_text"]) == (
        "message to driver", "Please call the office")  # fmt: skip
    assert (upload.tree["command"], upload.tree["binary_bytes"]) == ("upload firmware", 4)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (v1("SD", "170524;083015"), "too few fields"),
        (v1("SD", DATA_BODY.replace("4315.1234", "9130.0000")), "out of range"),
        (v1("ZZ", "1"), "unknown packet type"),
        (b"hello\r\n", "not a '#type#' packet"),
        (v1("L", ""), "without a device id"),
        (b"#D#\x01\r\n", "control"),
    ],
)
def test_content_errors_are_notes(data: bytes, reason: str) -> None:
    documents, notes = decode(wialon.Stream, data)
    assert documents == [] and len(notes) == 1 and reason in notes[0].reason


def test_line_without_end_is_capped() -> None:
    stream = wialon.Stream(max_frame=1024)
    with pytest.raises(DecodeError, match="CRLF"):
        stream.feed(b"#D#" + b"1" * 2000)
    with pytest.raises(DecodeError):
        stream.feed(b"#P#\r\n")


def test_absurd_photo_size_is_refused() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        wialon.Stream().feed(b"#I#999999999;0;1;NA;NA;x\r\n")


def test_looks_like() -> None:
    claims_only_its_own(wialon.looks_like, wialon.NAME, [*(sample_bytes(s) for s in SAMPLES)])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_looks_like_random_bytes(data: bytes) -> None:
    if wialon.looks_like(data):
        assert data.startswith((b"#L#", b"#SD#", b"#D#", b"#B#", b"#P#"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(wialon.Stream, chunks)
    survives(lambda: wialon.Stream(from_client=False), chunks)


VALID = [
    *(line(s) for s in SAMPLES),
    v2("D", DATA_BODY + ";0.8;1;0;12.5;NA;fuel:2:45.8,mcc:1:401,mnc:1:1,lac:1:1,cell_id:1:2"),
    b"#I#4;0;1;170524;083015;a.jpg\r\n\x00\x01\r\n",
]


@settings(max_examples=300, deadline=None)
@given(mutated(VALID))
def test_mutated_frames_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(wialon.Stream, chunks)
    survives(lambda: wialon.Stream(from_client=False), chunks)


@pytest.mark.parametrize(
    "noise",
    [b"#L#some words, then; a semicolon\r\n", b"#L#*#;x\r\n", b"#L#" + b"9" * 41 + b";pw\r\n"],
)
def test_noise_after_the_login_marker_is_not_a_login(noise: bytes) -> None:
    """Random text behind "#L#" must not become a login with credentials."""
    stream = wialon.Stream()
    assert stream.feed(noise) == []
    [note] = stream.take_notes()
    assert "implausible device id" in note.reason
