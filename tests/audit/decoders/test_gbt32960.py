"""GB/T 32960.3 stream decoding: real frames, generated frames of every command, bad input."""

from __future__ import annotations

import json
from functools import partial, reduce
from operator import xor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import gbt32960
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import StreamError
from shekara.audit.decoders.gbt32960 import Stream, looks_like
from shekara.audit.detectors import detect
from shekara.audit.model import Document

from .tracker_checks import at, decode_reasons, only, split_everywhere, survives

DATA = Path(__file__).resolve().parents[2] / "data" / "protocol_samples"
SAMPLES = json.loads((DATA / "gbt32960.json").read_text(encoding="utf-8"))["samples"]
VIN = "LGHC4V1D9HE204406"
TIME = bytes([20, 2, 21, 23, 31, 41])
ISO = "2020-02-21T23:31:41+08:00"

# First bytes other protocols send (traccar test vectors, see tests/data/protocol_samples),
# and common non-telematics openings: none may pass for GB/T 32960.
FOREIGN = [
    bytes.fromhex("78780D01086471700328358100093F040D0A"),  # GT06 login
    bytes.fromhex("000F313233343536373839303132333435"),  # Teltonika IMEI handshake
    bytes.fromhex("000000000000004c08010000016818d500580009c28d9f1cb3757a00be00c60f0053"),
    b"*HQ,9001000002,V8,213945,A,3542.2043,N,38.6508,W,0.00,170,221025,FBFFF9FF,0,0,0,0#",
    b"[3G*4700186508*000B*LK,0,10,100]",
    b"+RESP:GTFRI,DF0200,868487004353181,cv100,14051,10,1,0,0.0,0,264.1,114.015515$",
    b"(027023361470BV005J6RW2H53HL066029)",
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    bytes.fromhex("16030100f4010000f00303") + bytes(40),  # TLS ClientHello
    bytes.fromhex("101800044d5154540402003c000c636c69656e742d69642d3031"),  # MQTT CONNECT
    bytes.fromhex("7e0002000004304832546500b7ca7e"),  # JT/T 808 heartbeat
    b"##" + bytes(40),  # right start, nothing else right
]


def frame(
    command: int,
    unit: bytes,
    *,
    flag: int = 0xFE,
    vin: str = VIN,
    enc: int = 0x01,
    start: bytes = b"##",
) -> bytes:
    body = bytes([command, flag]) + vin.encode().ljust(17, b"\0") + bytes([enc])
    body += len(unit).to_bytes(2, "big") + unit
    return start + body + bytes([reduce(xor, body, 0)])


def decode(data: bytes, *, from_client: bool = True) -> tuple[list[Document], list[str]]:
    return decode_reasons(partial(Stream, from_client=from_client), data)


def one(data: bytes, *, from_client: bool = True) -> tuple[Document, list[str]]:
    return only(partial(Stream, from_client=from_client), data)


def position_block(lat: float, lon: float, status: int = 0, gcs: int | None = None) -> bytes:
    raw = bytes([status]) + (bytes([gcs]) if gcs is not None else b"")
    return b"\x05" + raw + round(lon * 1e6).to_bytes(4, "big") + round(lat * 1e6).to_bytes(4, "big")


VEHICLE_2016 = bytes.fromhex("0101030101a30004ab781814279548012e27100c00")
VEHICLE_2025 = bytes.fromhex("010103010000000261061be275464b011f1999")


# --- real frames ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["source"][-40:] for s in SAMPLES])
def test_real_frames_decode_to_the_stated_values(sample: dict[str, Any]) -> None:
    doc, notes = one(bytes.fromhex(sample["hex"]), from_client=sample["direction"] == "up")
    assert notes == []
    for path, want in sample["expect"].items():
        got = at(doc.tree, path)
        if isinstance(want, float):
            assert got == pytest.approx(want, abs=1e-6), path
        else:
            assert got == want, path


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["source"][-40:] for s in SAMPLES])
def test_real_frames_yield_their_personal_data_categories(sample: dict[str, Any]) -> None:
    doc, _ = one(bytes.fromhex(sample["hex"]))
    assert sorted({hit.category.value for hit in detect(doc)}) == sample["categories"]


def test_realtime_sample_position_is_found_as_a_location() -> None:
    doc, _ = one(bytes.fromhex(SAMPLES[1]["hex"]))
    hits = {hit.category.value: hit.canonical for hit in detect(doc)}
    assert hits == {"location": "34.227051,108.655023", "vin": "LMPG2KAB3JA431054"}


def test_real_frames_are_recognised_by_their_first_bytes() -> None:
    for sample in SAMPLES:
        assert looks_like(bytes.fromhex(sample["hex"])[:64])


# --- generated frames: every command ----------------------------------------------------


def test_vehicle_login_2016_with_pack_codes() -> None:
    unit = TIME + b"\x00\x07" + b"89860117795950089298" + b"\x02\x03" + b"ABCDEF"
    doc, notes = one(frame(0x01, unit))
    assert notes == []
    assert doc.source == "gbt32960.vehicle_login"
    assert doc.tree["time"] == ISO
    assert doc.tree["subsystem_codes"] == ["ABC", "DEF"]
    assert doc.tree["iccid"] == "89860117795950089298"


def test_vehicle_login_2025_counts_packs_per_subsystem() -> None:
    codes = [f"PACK{i:020d}".encode() for i in range(3)]
    unit = TIME + b"\x00\x01" + b"8986".ljust(20, b"0") + b"\x02\x02\x01" + b"".join(codes)
    doc, notes = one(frame(0x01, unit, start=b"$$"))
    assert notes == []
    assert doc.tree["protocol"] == "GB/T 32960.3-2025"
    assert doc.tree["subsystem_codes"] == [c.decode() for c in codes]


@pytest.mark.parametrize(
    "status, lat, lon, valid",
    [
        (0b000, 34.227051, 108.655023, True),
        (0b010, -33.868820, 151.209296, True),
        (0b100, 51.507351, -0.127758, True),
        (0b111, -22.906847, -43.172897, False),
    ],
)
def test_position_block_applies_hemispheres_and_validity(
    status: int, lat: float, lon: float, valid: bool
) -> None:
    unit = TIME + position_block(abs(lat), abs(lon), status)
    doc, notes = one(frame(0x02, unit))
    assert notes == []
    position = doc.tree["position"]
    assert position["lat"] == pytest.approx(lat, abs=1e-6)
    assert position["lon"] == pytest.approx(lon, abs=1e-6)
    assert position["valid"] is valid
    assert position["ns"] == ("S" if lat < 0 else "N")
    assert position["ew"] == ("W" if lon < 0 else "E")


def test_realtime_2016_skips_every_known_block_by_its_length() -> None:
    blocks = [
        VEHICLE_2016,
        b"\x02\x02" + bytes(24),  # two drive motors, 12 bytes each
        b"\x03" + bytes(6) + b"\x00\x03" + bytes(3) + bytes(10),  # fuel cell, 3 probes
        b"\x04" + bytes(5),  # engine
        b"\x06" + bytes(14),  # extremes
        b"\x07" + bytes(5) + b"\x01" + bytes(4) + b"\x00\x02" + bytes(8) + b"\x00",  # alarms
        b"\x08\x01" + bytes(9) + b"\x02" + bytes(4),  # cell voltages, 2 cells
        b"\x09\x01\x01\x00\x03" + bytes(3),  # probe temperatures, 3 probes
        position_block(43.238949, 76.889709),
        b"\xa0\x00\x03abc",  # vendor block, WORD length
    ]
    doc, notes = one(frame(0x03, TIME + b"".join(blocks)))
    assert notes == []
    assert doc.source == "gbt32960.reissue"
    assert doc.tree["blocks"] == [
        "0x01", "0x02", "0x03", "0x04", "0x06", "0x07", "0x08", "0x09", "0x05", "0xa0",
    ]  # fmt: skip
    assert doc.tree["vehicle"]["speed_kmh"] == 41.9
    assert doc.tree["vehicle"]["odometer_km"] == 30604.0
    assert doc.tree["position"]["lat"] == pytest.approx(43.238949)
    assert doc.tree["vendor_blocks"] == [{"type": "0xa0", "length": 3}]


def test_realtime_2025_blocks_and_signature() -> None:
    blocks = [
        VEHICLE_2025,
        b"\x02\x01" + bytes(10),  # one drive motor, 10 bytes in 2025
        b"\x04" + bytes(2),  # engine: 2 bytes in 2025
        position_block(43.238949, 76.889709, gcs=1),
        b"\x06" + bytes(5) + b"\x00\x00\x00\x00" + b"\x01\x00\x01",  # alarms + 1 level pair
        b"\x07\x01" + bytes(5) + b"\x00\x02" + bytes(4),  # cell voltages, WORD count
        b"\x08\x01\x01\x00\x02" + bytes(2),  # probe temperatures
        b"\x80\x00\x01\x00",
    ]
    signature = b"\xff\x02\x00\x02ab\x00\x00"
    doc, notes = one(frame(0x02, TIME + b"".join(blocks) + signature, start=b"$$"))
    assert notes == []
    assert doc.tree["blocks"] == ["0x01", "0x02", "0x04", "0x05", "0x06", "0x07", "0x08", "0x80"]
    assert doc.tree["signature"] == "RSA"
    assert doc.tree["position"]["coordinate_system"] == "WGS-84"
    assert doc.tree["vehicle"]["current_a"] == pytest.approx(2.2)
    assert doc.tree["vehicle"]["odometer_km"] == 15591.0
    assert "brake" not in doc.tree["vehicle"]


@pytest.mark.parametrize(
    "start, unknown", [(b"##", b"\x0a\x01\x02"), (b"$$", b"\x03" + bytes(8)), (b"$$", b"\x30\x00")]
)
def test_block_of_unknown_length_stops_with_a_note_keeping_what_came_before(
    start: bytes, unknown: bytes
) -> None:
    gcs = 2 if start == b"$$" else None
    unit = TIME + position_block(34.2, 108.6, gcs=gcs) + unknown
    doc, notes = one(frame(0x02, unit, start=start))
    assert len(notes) == 1 and "no known length" in notes[0]
    assert doc.tree["position"]["lat"] == pytest.approx(34.2)
    assert doc.tree["blocks"] == ["0x05", f"0x{unknown[0]:02x}"]


def test_logout_heartbeat_and_time_calibration() -> None:
    docs, notes = decode(
        frame(0x04, TIME + b"\x00\x09")
        + frame(0x07, b"")
        + frame(0x08, b"")
        + frame(0x06, TIME + b"\x00\x02")
    )
    assert notes == []
    assert [d.source for d in docs] == [
        "gbt32960.vehicle_logout",
        "gbt32960.heartbeat",
        "gbt32960.time_calibration",
        "gbt32960.platform_logout",
    ]
    assert docs[0].tree["login_serial"] == 9
    assert all(d.tree["vin"] == VIN for d in docs)


def test_platform_login_records_username_and_flags_credentials_without_the_password() -> None:
    unit = TIME + b"\x00\x01" + b"bjlgxy".ljust(12, b"\0") + b"s3cret-pw-123".ljust(20, b"\0")
    doc, notes = one(frame(0x05, unit + b"\x01", vin="PLATFORM-CODE-001"))
    assert notes == []
    assert doc.tree["username"] == "bjlgxy"
    assert doc.tree["password_present"] is True
    assert doc.tree["credentials"] == "platform login"
    assert "s3cret" not in json.dumps(doc.tree)


def test_activation_and_key_sync_2025_never_record_the_key() -> None:
    activation = TIME + b"CHIP000000000001" + b"\x00\x04" + b"\x01\x02\x03\x04" + VIN.encode()
    activation += b"\x01\x00\x01\xaa\x00\x01\xbb"
    key = bytes.fromhex("00112233445566778899aabbccddeeff")
    sync = b"\x05\x00\x10" + key + TIME + TIME
    docs, notes = decode(frame(0x09, activation, start=b"$$") + frame(0x0B, sync, start=b"$$"))
    assert notes == []
    assert docs[0].tree["activation_vin"] == VIN
    assert docs[0].tree["signature"] == "SM2"
    assert docs[1].tree["payload_key_present"] is True
    assert docs[1].tree["payload_encryption"] == "SM4"
    assert key.hex() not in json.dumps(docs[1].tree)


def test_query_and_set_parameters_downstream() -> None:
    query = TIME + b"\x03\x01\x05\x06"
    domain = b"rtm.example.cn"
    setting = TIME + b"\x03" + b"\x04" + bytes([len(domain)]) + b"\x05" + domain + b"\x06\x1c\xa5"
    docs, notes = decode(frame(0x80, query) + frame(0x81, setting), from_client=False)
    assert notes == []
    assert [d.source for d in docs] == ["gbt32960.down.0x80", "gbt32960.down.0x81"]
    assert docs[0].tree["command"] == "query_parameters"
    assert docs[0].tree["parameters"] == [
        "local_storage_period_ms",
        "remote_platform_domain",
        "remote_platform_port",
    ]
    assert docs[1].tree["command"] == "set_parameters"
    assert docs[1].tree["parameters"]["remote_platform_domain"] == "rtm.example.cn"
    assert docs[1].tree["parameters"]["remote_platform_port"] == 7333


def test_parameter_query_reply_from_the_vehicle_carries_values() -> None:
    reply = TIME + b"\x02\x09\x1e\x0f\x1c\xa5"
    doc, notes = one(frame(0x80, reply, flag=0x01))
    assert notes == []
    assert doc.tree["response_flag"] == "success"
    assert doc.tree["parameters"] == {"heartbeat_interval_s": 30, "public_platform_port": 7333}


def upgrade_params(password: bytes = b"Pa55w0rd") -> bytes:
    return b";".join(
        [
            b"CMNET",
            b"user",
            password,
            b"\x00\x00\x0a\x00\x00\x01",
            b"\x00\x15",
            b"MK01",
            b"HW001",
            b"FW002",
            b"http://ota.example.cn/fw.bin",
            b"\x00\x3b",
        ]
    )


@pytest.mark.parametrize(
    "control, name",
    [
        (0x02, "terminal shutdown"),
        (0x03, "terminal reset"),
        (0x04, "factory reset"),
        (0x05, "disconnect data link"),
        (0x07, "open sampling monitoring link"),
        (0x90, "vendor-defined"),
        (0x20, "unknown 0x20"),
    ],
)
def test_terminal_control_names_the_command(control: int, name: str) -> None:
    doc, notes = one(frame(0x82, TIME + bytes([control])), from_client=False)
    assert notes == []
    assert doc.source == "gbt32960.down.0x82"
    assert doc.tree["command"] == "terminal_control"
    assert doc.tree["control"] == name


def test_remote_upgrade_is_an_ota_instruction_with_its_url() -> None:
    doc, notes = one(frame(0x82, TIME + b"\x01" + upgrade_params()), from_client=False)
    assert notes == []
    assert doc.tree["control"] == "remote upgrade"
    assert doc.tree["ota"] is True
    assert doc.tree["upgrade_url"] == "http://ota.example.cn/fw.bin"
    assert doc.tree["upgrade_server_ip"] == "10.0.0.1"
    assert doc.tree["upgrade_server_port"] == 21
    assert doc.tree["password_present"] is True
    assert "Pa55w0rd" not in json.dumps(doc.tree)


def test_remote_upgrade_outside_the_standard_layout_keeps_the_url_and_notes() -> None:
    # A password holding the separator shifts every later field.
    params = upgrade_params(password=b"pass;word")
    doc, notes = one(frame(0x82, TIME + b"\x01" + params), from_client=False)
    assert doc.tree["upgrade_url"] == "http://ota.example.cn/fw.bin"
    assert len(notes) == 1 and "not in the standard layout" in notes[0]


def test_terminal_alarm_carries_level_and_message() -> None:
    doc, notes = one(frame(0x82, TIME + b"\x06\x02" + "电池过热".encode("gbk")), from_client=False)
    assert notes == []
    assert doc.tree["alarm_level"] == 2
    assert doc.tree["alarm_message"] == "电池过热"


def test_platform_response_is_downstream_and_keeps_the_time() -> None:
    doc, notes = one(frame(0x01, TIME, flag=0x01), from_client=False)
    assert notes == []
    assert doc.source == "gbt32960.down.0x01"
    assert doc.tree["response_flag"] == "success"
    assert doc.tree["time"] == ISO


def test_encrypted_unit_keeps_the_vin_and_is_noted() -> None:
    doc, notes = one(frame(0x02, bytes(32), enc=0x03))
    assert doc.tree["vin"] == VIN
    assert doc.tree["encryption"] == "AES-128"
    assert len(notes) == 1 and "encrypted" in notes[0]


def test_unknown_command_keeps_the_vin_and_is_noted() -> None:
    doc, notes = one(frame(0x42, b"\x01\x02"))
    assert doc.source == "gbt32960.0x42"
    assert doc.tree["vin"] == VIN
    assert len(notes) == 1 and "unknown command" in notes[0]


def test_impossible_time_is_kept_raw() -> None:
    doc, notes = one(frame(0x04, bytes([25, 13, 40, 0, 0, 0]) + b"\x00\x01"))
    assert notes == []
    assert doc.tree["time_raw"] == "190d28000000"
    assert "time" not in doc.tree


# --- reassembly ---------------------------------------------------------------------------

STREAM = (
    frame(0x01, TIME + b"\x00\x07" + b"8986".ljust(20, b"0") + b"\x00\x00")
    + frame(0x02, TIME + VEHICLE_2016 + position_block(43.238949, 76.889709))
    + frame(0x07, b"")
    + bytes.fromhex(SAMPLES[1]["hex"])
)


def test_several_frames_in_one_chunk() -> None:
    docs, notes = decode(STREAM)
    assert notes == []
    assert [d.source for d in docs] == [
        "gbt32960.vehicle_login",
        "gbt32960.realtime",
        "gbt32960.heartbeat",
        "gbt32960.realtime",
    ]


def test_frames_split_at_every_byte_boundary_or_fed_byte_by_byte_decode_the_same() -> None:
    split_everywhere(Stream, STREAM)
    assert decode(STREAM)[1] == []


# --- malformed input ----------------------------------------------------------------------


def test_truncated_frame_waits_for_more() -> None:
    data = frame(0x07, b"")
    stream = Stream()
    assert stream.feed(data[:-1]) == []
    assert [d.source for d in stream.feed(data[-1:])] == ["gbt32960.heartbeat"]


def test_bad_checksum_is_a_note_and_the_next_frame_still_decodes() -> None:
    bad = bytearray(frame(0x07, b""))
    bad[-1] ^= 0xFF
    docs, notes = decode(bytes(bad) + frame(0x04, TIME + b"\x00\x01"))
    assert [d.source for d in docs] == ["gbt32960.vehicle_logout"]
    assert notes == ["GB/T 32960: BCC checksum mismatch, frame skipped"]


@pytest.mark.parametrize(
    "unit, reason",
    [
        (TIME + b"\x00", "truncated"),
        (TIME + b"\x00\x01\x00", "trailing"),
    ],
)
def test_wrong_content_length_is_a_note(unit: bytes, reason: str) -> None:
    doc, notes = one(frame(0x04, unit))
    assert len(notes) == 1 and reason in notes[0]
    assert doc.tree["vin"] == VIN


def test_garbage_start_raises_and_poisons_the_stream() -> None:
    stream = Stream()
    with pytest.raises(StreamError) as info:
        stream.feed(frame(0x07, b"") + b"#X" + bytes(30))
    assert [d.source for d in info.value.documents] == ["gbt32960.heartbeat"]
    with pytest.raises(DecodeError):
        stream.feed(frame(0x07, b""))


def test_absurd_length_beyond_the_cap_raises() -> None:
    header = b"##\x02\xfe" + VIN.encode() + b"\x01\xff\xff"
    with pytest.raises(DecodeError, match="cap"):
        Stream(max_frame=4096).feed(header)


def test_frame_at_the_cap_is_accepted() -> None:
    data = frame(0x02, TIME + b"\x80" + (1000).to_bytes(2, "big") + bytes(1000))
    docs = Stream(max_frame=len(data)).feed(data)
    assert docs[0].tree["vendor_blocks"] == [{"type": "0x80", "length": 1000}]
    with pytest.raises(DecodeError):
        Stream(max_frame=len(data) - 1).feed(data)


@pytest.mark.parametrize("data", FOREIGN)
def test_other_protocols_do_not_look_like_gbt32960(data: bytes) -> None:
    assert not looks_like(data)


def test_looks_like_never_raises_on_short_input() -> None:
    for n in range(30):
        assert looks_like(STREAM[:n]) is (n >= 22)


def test_module_metadata() -> None:
    assert gbt32960.NAME == "gbt32960"
    assert 7325 in gbt32960.DEFAULT_PORTS


# --- fuzzing ------------------------------------------------------------------------------


def _refit(data: bytes) -> bytes:
    """Make a mutated frame well-framed again: length and BCC, so its content gets decoded."""
    if len(data) < 25:
        return data
    unit = data[24:-1]
    body = data[2:22] + len(unit).to_bytes(2, "big") + unit
    return data[:2] + body + bytes([reduce(xor, body, 0)])


VALID = [bytes.fromhex(s["hex"]) for s in SAMPLES] + [
    frame(0x82, TIME + b"\x01" + upgrade_params()),
    frame(0x81, TIME + b"\x02\x04\x03\x05abc"),
    frame(0x05, TIME + bytes(35)),
]


def _feed_all(chunks: list[bytes], from_client: bool) -> None:
    survives(partial(Stream, from_client=from_client, max_frame=8192), chunks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=4), st.booleans())
def test_random_bytes_only_raise_decode_error(chunks: list[bytes], from_client: bool) -> None:
    _feed_all(chunks, from_client)
    _feed_all([b"##" + chunk for chunk in chunks], from_client)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
)
def test_mutated_frames_only_raise_decode_error(
    valid: bytes, edits: list[tuple[int, int]], refit: bool
) -> None:
    data = bytearray(valid)
    for where, value in edits:
        data[2 + where % (len(data) - 2)] = value
    mutated = _refit(bytes(data)) if refit else bytes(data)
    _feed_all([mutated], True)
    _feed_all([mutated[: len(mutated) // 2], mutated[len(mutated) // 2 :], valid], False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.integers(25, 600), st.binary(max_size=40))
def test_truncated_and_padded_content_only_raises_decode_error(
    valid: bytes, cut: int, tail: bytes
) -> None:
    _feed_all([_refit(valid[:cut] + tail + b"\x00")], True)
