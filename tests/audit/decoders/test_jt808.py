"""JT/T 808 stream decoding: real frames, generated frames of every message, bad input."""

from __future__ import annotations

import json
from functools import partial, reduce
from operator import xor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import jt808
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import StreamError
from shekara.audit.decoders.jt808 import Stream, looks_like
from shekara.audit.detectors import detect
from shekara.audit.model import Document

from .tracker_checks import at, decode_reasons, only, split_everywhere, survives

DATA = Path(__file__).resolve().parents[2] / "data" / "protocol_samples"
SAMPLES = json.loads((DATA / "jt808.json").read_text(encoding="utf-8"))["samples"]
GB_SAMPLES = json.loads((DATA / "gbt32960.json").read_text(encoding="utf-8"))["samples"]
PHONE = "013511221122"
PHONE_2019 = "00000013511221122000"
ISO = "2024-05-07T03:51:52+08:00"

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
    *(bytes.fromhex(s["hex"])[:64] for s in GB_SAMPLES),
    b"\x7e" + bytes(30) + b"\x7e",  # right flags, checksum 0 matches, length does not
]


def frame(
    msg_id: int,
    body: bytes,
    *,
    phone: str | None = None,
    serial: int = 1,
    v2019: bool = False,
    packet: tuple[int, int] | None = None,
    encryption: int = 0,
    length: int | None = None,
) -> bytes:
    props = (len(body) if length is None else length) | encryption << 10
    props |= (0x2000 if packet else 0) | (0x4000 if v2019 else 0)
    head = msg_id.to_bytes(2, "big") + props.to_bytes(2, "big")
    if v2019:
        head += b"\x01" + bytes.fromhex(phone or PHONE_2019)
    else:
        head += bytes.fromhex(phone or PHONE)
    head += serial.to_bytes(2, "big")
    if packet:
        head += packet[0].to_bytes(2, "big") + packet[1].to_bytes(2, "big")
    return wrap(head + body)


def wrap(data: bytes) -> bytes:
    """Add the checksum, escape, and put the flags around."""
    data += bytes([reduce(xor, data, 0)])
    return b"\x7e" + data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02") + b"\x7e"


def location(
    lat: float,
    lon: float,
    *,
    status: int = 0x03,
    time: str = "240507035152",
    extras: bytes = b"",
) -> bytes:
    status |= (0x04 if lat < 0 else 0) | (0x08 if lon < 0 else 0)
    body = (0).to_bytes(4, "big") + status.to_bytes(4, "big")
    body += round(abs(lat) * 1e6).to_bytes(4, "big") + round(abs(lon) * 1e6).to_bytes(4, "big")
    body += (812).to_bytes(2, "big") + (655).to_bytes(2, "big") + (271).to_bytes(2, "big")
    return body + bytes.fromhex(time) + extras


def item(ident: int, value: bytes) -> bytes:
    return bytes([ident, len(value)]) + value


def decode(data: bytes, *, from_client: bool = True) -> tuple[list[Document], list[str]]:
    return decode_reasons(partial(Stream, from_client=from_client), data)


def one(data: bytes, *, from_client: bool = True) -> tuple[Document, list[str]]:
    return only(partial(Stream, from_client=from_client), data)


# --- real frames ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["source"][-24:] for s in SAMPLES])
def test_real_frames_decode_to_the_stated_values(sample: dict[str, Any]) -> None:
    doc, notes = one(bytes.fromhex(sample["hex"]), from_client=sample["direction"] == "up")
    assert notes == []
    assert doc.source == ("jt808." if sample["direction"] == "up" else "jt808.down.") + at(
        doc.tree, "message_id"
    )
    for path, want in sample["expect"].items():
        got = at(doc.tree, path)
        if isinstance(want, float):
            assert got == pytest.approx(want, abs=1e-6), path
        else:
            assert got == want, path


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["source"][-24:] for s in SAMPLES])
def test_real_frames_yield_their_personal_data_categories(sample: dict[str, Any]) -> None:
    doc, _ = one(bytes.fromhex(sample["hex"]))
    assert sorted({hit.category.value for hit in detect(doc)}) == sample["categories"]


def test_real_frames_are_recognised_by_their_first_bytes() -> None:
    for sample in SAMPLES:
        assert looks_like(bytes.fromhex(sample["hex"]))


def test_non_bcd_terminal_number_is_kept_raw_only() -> None:
    doc, _ = one(bytes.fromhex(SAMPLES[6]["hex"]), from_client=False)
    assert doc.tree["terminal_id_raw"] == "0b3a73ce2ff2"
    assert "terminal_phone" not in doc.tree


# --- generated frames: upstream ---------------------------------------------------------


@pytest.mark.parametrize(
    "lat, lon",
    [(43.238949, 76.889709), (-33.868820, 151.209296), (51.507351, -0.127758), (-22.9, -43.2)],
)
def test_location_applies_south_and_west_status_bits(lat: float, lon: float) -> None:
    doc, notes = one(frame(0x0200, location(lat, lon)))
    assert notes == []
    assert doc.tree["position"]["lat"] == pytest.approx(lat, abs=1e-6)
    assert doc.tree["position"]["lon"] == pytest.approx(lon, abs=1e-6)
    assert doc.tree["time"] == ISO
    assert (doc.tree["altitude_m"], doc.tree["speed_kmh"], doc.tree["direction"]) == (
        812,
        65.5,
        271,
    )
    assert doc.tree["acc_on"] is True and doc.tree["fixed"] is True


def test_location_items_become_meaningful_keys() -> None:
    extras = b"".join(
        [
            item(0x01, (123456).to_bytes(4, "big")),
            item(0x30, b"\x1c"),
            item(0x31, b"\x0b"),
            item(0xCC, b"89860117795950089298"),
            item(0xF6, bytes.fromhex("0867567041100769")),
            item(0xEE, bytes.fromhex("01cc01262c009a674300")),
            item(0xE4, b"\x00\x63"),
            item(0xF2, b"FW-1.2.3"),
        ]
    )
    doc, notes = one(frame(0x0200, location(43.238949, 76.889709, extras=extras)))
    assert notes == []
    tree = doc.tree
    assert tree["mileage_km"] == 12345.6
    assert (tree["signal_strength"], tree["satellites"]) == (28, 11)
    assert tree["iccid"] == "89860117795950089298"
    assert tree["imei"] == "867567041100769"
    assert tree["cell"] == {"mcc": 460, "mnc": 1, "lac": 9772, "cell_id": 10118979, "signal": 0}
    assert tree["extras"] == {"0xe4": {"hex": "0063"}, "0xf2": "FW-1.2.3"}
    found = {hit.category.value for hit in detect(doc)}
    assert {"iccid", "imei", "location"} <= found


def test_vendor_sub_items_carry_the_iccid() -> None:
    sub = (12).to_bytes(2, "big") + b"\x00\xb2" + bytes.fromhex("89860499102190207874")
    sub += (6).to_bytes(2, "big") + b"\x00\x89" + b"\xff\xff\xff\xff"
    doc, notes = one(frame(0x0200, location(22.9, 114.0, extras=item(0xEB, sub))))
    assert notes == []
    assert doc.tree["iccid"] == "89860499102190207874"
    assert doc.tree["extras"] == {"0xeb": {"0x0089": "ffffffff"}}


def test_location_reply_and_batch() -> None:
    reply = (7).to_bytes(2, "big") + location(43.2, 76.8)
    first, second = location(43.2, 76.8), location(43.3, 76.9, extras=item(0x31, b"\x05"))
    batch = b"\x00\x02\x01" + len(first).to_bytes(2, "big") + first
    batch += len(second).to_bytes(2, "big") + second
    docs, notes = decode(frame(0x0201, reply) + frame(0x0704, batch))
    assert notes == []
    assert docs[0].tree["reply_serial"] == 7
    assert docs[0].tree["position"] == {"lat": 43.2, "lon": 76.8}
    assert docs[1].tree["batch_type"] == "blind area"
    assert [loc["position"]["lat"] for loc in docs[1].tree["locations"]] == [43.2, 43.3]
    assert docs[1].tree["locations"][1]["satellites"] == 5


def registration(
    model: int, terminal: int, maker: int, plate: bytes, color: int = 1, term: bytes = b"T1"
) -> bytes:
    body = (31).to_bytes(2, "big") + (100).to_bytes(2, "big") + b"70107".ljust(maker, b"\0")
    return body + b"M-1".ljust(model, b"\0") + term.ljust(terminal, b"\0") + bytes([color]) + plate


@pytest.mark.parametrize(
    "layout, widths, color, plate, key",
    [
        ("2011", (8, 7, 5), 1, "粤B88888", "plate"),
        ("2011", (8, 7, 5), 0, "LGHC4V1D9HE204406", "vin"),
        ("2013", (20, 7, 5), 2, "苏BA6860", "plate"),
        ("2013", (20, 7, 5), 0, "LGHC4V1D9HE204406", "vin"),
        ("2019", (30, 30, 11), 5, "京AD12345", "plate"),
    ],
)
def test_registration_layouts(
    layout: str, widths: tuple[int, int, int], color: int, plate: str, key: str
) -> None:
    body = registration(*widths, plate=plate.encode("gbk"), color=color)
    doc, notes = one(frame(0x0100, body, v2019=layout == "2019"))
    assert notes == []
    assert doc.tree["layout"] == layout
    assert doc.tree[key] == plate
    assert (doc.tree["terminal_model"], doc.tree["terminal_id"]) == ("M-1", "T1")
    assert (doc.tree["province_id"], doc.tree["city_id"]) == (31, 100)
    assert doc.tree["manufacturer_id"] == "70107"


def test_registration_2019_terminal_id_that_is_an_imei() -> None:
    body = registration(30, 30, 11, plate=b"", color=0, term=b"866496077582164")
    doc, _ = one(frame(0x0100, body, v2019=True))
    assert doc.tree["imei"] == "866496077582164"
    assert "plate" not in doc.tree and "vin" not in doc.tree


def test_authentication_2013_and_2019() -> None:
    v2019 = b"\x06ABC123" + b"866496077582164" + b"SW-2.0".ljust(20, b"\0")
    docs, notes = decode(frame(0x0102, b"ABC123") + frame(0x0102, v2019, v2019=True))
    assert notes == []
    assert docs[0].tree["auth_code"] == "ABC123"
    assert docs[1].tree["auth_code"] == "ABC123"
    assert docs[1].tree["imei"] == "866496077582164"
    assert docs[1].tree["software_version"] == "SW-2.0"
    assert docs[1].tree["terminal_phone"] == "13511221122000"


def test_attributes_carry_the_iccid() -> None:
    body = b"\x00\x07" + b"70107" + b"M-1".ljust(20, b"\0") + b"T1".ljust(7, b"\0")
    body += bytes.fromhex("89860117795950089298") + b"\x03HW1\x04FW22\x03\x01"
    doc, notes = one(frame(0x0107, body))
    assert notes == []
    assert doc.tree["iccid"] == "89860117795950089298"
    assert (doc.tree["hardware_version"], doc.tree["firmware_version"]) == ("HW1", "FW22")


def test_general_response_heartbeat_and_logout() -> None:
    docs, notes = decode(
        frame(0x0001, b"\x00\x05\x81\x05\x00") + frame(0x0002, b"") + frame(0x0003, b"")
    )
    assert notes == []
    assert [d.tree["message"] for d in docs] == ["terminal_response", "heartbeat", "logout"]
    assert docs[0].tree["reply_to"] == "0x8105"
    assert docs[0].tree["result"] == "success"
    assert all(d.tree["terminal_phone"] == "13511221122" for d in docs)


def parameter(ident: int, value: bytes) -> bytes:
    return ident.to_bytes(4, "big") + bytes([len(value)]) + value


PARAMETERS = b"".join(
    [
        parameter(0x0013, b"gps.example.cn"),
        parameter(0x0018, (7611).to_bytes(4, "big")),
        parameter(0x0012, b"hunter2"),
        parameter(0x0040, b"13800138000"),
        parameter(0x0083, "粤B88888".encode("gbk")),
        parameter(0xF001, b"\x01\x02"),
    ]
)


def test_parameter_reply_upstream() -> None:
    doc, notes = one(frame(0x0104, b"\x00\x09\x06" + PARAMETERS))
    assert notes == []
    assert doc.tree["parameters"]["server_address"] == "gps.example.cn"
    assert "hunter2" not in json.dumps(doc.tree, ensure_ascii=False)


# --- generated frames: downstream -------------------------------------------------------


def test_set_parameters_downstream() -> None:
    doc, notes = one(frame(0x8103, b"\x06" + PARAMETERS), from_client=False)
    assert notes == []
    assert doc.source == "jt808.down.0x8103"
    assert doc.tree["command"] == "set_parameters"
    assert doc.tree["parameters"] == {
        "server_address": "gps.example.cn",
        "server_tcp_port": 7611,
        "dial_password_present": True,
        "platform_phone": "13800138000",
        "plate": "粤B88888",
        "0xf001": {"hex": "0102"},
    }
    assert "hunter2" not in json.dumps(doc.tree, ensure_ascii=False)
    assert "license_plate" in {hit.category.value for hit in detect(doc)}


@pytest.mark.parametrize(
    "word, name",
    [
        (3, "shutdown"),
        (4, "reset"),
        (5, "factory reset"),
        (6, "close data communication"),
        (7, "close all wireless communication"),
        (0xF0, "engine stop (vendor)"),
        (0xF1, "engine resume (vendor)"),
        (0x64, "engine stop (vendor)"),
        (0x65, "engine resume (vendor)"),
        (0x99, "unknown 0x99"),
    ],
)
def test_terminal_control_names_the_command(word: int, name: str) -> None:
    doc, notes = one(frame(0x8105, bytes([word])), from_client=False)
    assert notes == []
    assert doc.tree["command"] == "terminal_control"
    assert doc.tree["control"] == name


def test_wireless_upgrade_is_an_ota_instruction_with_its_url() -> None:
    params = b"http://ota.example.cn/fw.bin;CMNET;user;Pa55w0rd;10.0.0.1;9000;0;70107;HW1;FW2;30"
    doc, notes = one(frame(0x8105, b"\x01" + params), from_client=False)
    assert notes == []
    assert doc.tree["control"] == "wireless upgrade"
    assert doc.tree["ota"] is True
    assert doc.tree["upgrade_url"] == "http://ota.example.cn/fw.bin"
    assert doc.tree["server_address"] == "10.0.0.1"
    assert doc.tree["password_present"] is True
    assert "Pa55w0rd" not in json.dumps(doc.tree)


def test_connect_to_specified_server() -> None:
    params = b"0;AUTH42;CMNET;;;evil.example.com;7611;0;5"
    doc, notes = one(frame(0x8105, b"\x02" + params), from_client=False)
    assert notes == []
    assert doc.tree["control"] == "connect to specified server"
    assert doc.tree["server_address"] == "evil.example.com"
    assert doc.tree["tcp_port"] == "7611"
    assert "password_present" not in doc.tree


@pytest.mark.parametrize("v2019", [False, True])
def test_text_message_is_gbk(v2019: bool) -> None:
    body = b"\x01" + (b"\x01" if v2019 else b"") + "请立即停车".encode("gbk")
    doc, notes = one(frame(0x8300, body, v2019=v2019), from_client=False)
    assert notes == []
    assert doc.tree["command"] == "text_message"
    assert doc.tree["text"] == "请立即停车"


def test_registration_response_and_platform_response() -> None:
    docs, notes = decode(
        frame(0x8100, b"\x00\x05\x00AUTH-CODE-1") + frame(0x8001, b"\x00\x06\x01\x02\x04"),
        from_client=False,
    )
    assert notes == []
    assert docs[0].tree["auth_code"] == "AUTH-CODE-1"
    assert docs[0].tree["result"] == "success"
    assert docs[1].tree["result"] == "alarm ack"


def test_vehicle_control_door_lock() -> None:
    doc, notes = one(frame(0x8500, b"\x01"), from_client=False)
    assert notes == []
    assert (doc.tree["command"], doc.tree["control"]) == ("vehicle_control", "lock doors")


# --- framing ------------------------------------------------------------------------------


def test_escaped_bytes_are_restored() -> None:
    text = b"a\x7eb\x7dc\x7d\x02"
    data = frame(0x8300, b"\x00" + text)
    assert data.count(b"\x7e") == 2
    doc, notes = one(data, from_client=False)
    assert notes == []
    assert doc.tree["text"] == text.decode("latin-1")


def test_invalid_escape_is_a_note_and_the_next_frame_decodes() -> None:
    bad = b"\x7e\x00\x02\x00\x00" + bytes.fromhex(PHONE) + b"\x00\x01\x7d\x05\x7e"
    docs, notes = decode(bad + frame(0x0002, b""))
    assert [d.tree["message"] for d in docs] == ["heartbeat"]
    assert notes == ["JT/T 808: invalid 0x7D escape, frame skipped"]


def test_bad_checksum_is_a_note() -> None:
    data = bytearray(frame(0x0002, b""))
    data[-2] ^= 0x01
    docs, notes = decode(bytes(data) + frame(0x0003, b""))
    assert [d.tree["message"] for d in docs] == ["logout"]
    assert notes == ["JT/T 808: checksum mismatch, frame skipped"]


def test_shared_and_doubled_flags_between_frames() -> None:
    a, b = frame(0x0002, b""), frame(0x0003, b"")
    for data in (a + b, a[:-1] + b, a + b"\x7e\x7e" + b, b"\x7e\x7e" + a):
        docs, notes = decode(data)
        assert notes == []
        assert [d.tree["message"] for d in docs] == ["heartbeat", "logout"][: len(docs)]
        assert len(docs) == (1 if data.startswith(b"\x7e\x7e\x7e") else 2)


def test_multi_packet_message_is_reassembled() -> None:
    body = location(43.238949, 76.889709, extras=item(0xCC, b"89860117795950089298"))
    parts = [body[:20], body[20:40], body[40:]]
    data = b"".join(
        frame(0x0200, part, serial=100 + i, packet=(3, i + 1)) for i, part in enumerate(parts)
    )
    docs, notes = decode(data)
    assert notes == []
    assert len(docs) == 3
    assert "position" not in docs[0].tree
    assert docs[2].tree["reassembled"] is True
    assert docs[2].tree["iccid"] == "89860117795950089298"
    assert docs[2].tree["position"]["lat"] == pytest.approx(43.238949)


def test_multi_packet_message_of_an_undecoded_kind_keeps_the_header() -> None:
    doc, notes = one(frame(0x0801, bytes(50), packet=(9, 2)))
    assert doc.tree["packet"] == {"total": 9, "index": 2}
    assert doc.tree["terminal_phone"] == "13511221122"
    assert notes == ["JT/T 808: multi-packet message part 2 of 9, not reassembled"]


def test_rsa_encrypted_body_is_noted_and_the_header_kept() -> None:
    doc, notes = one(frame(0x0200, bytes(40), encryption=1))
    assert doc.tree["encrypted"] is True
    assert doc.tree["terminal_phone"] == "13511221122"
    assert notes == ["JT/T 808: encrypted body (RSA), 40 bytes, not decoded"]


def test_unknown_message_keeps_the_header_and_is_noted() -> None:
    doc, notes = one(frame(0x0F01, b"\x01\x02\x03"))
    assert doc.source == "jt808.0x0f01"
    assert doc.tree["terminal_phone"] == "13511221122"
    assert notes == ["JT/T 808: message 0x0f01 body (3 bytes) not decoded"]


def test_body_length_mismatch_is_noted_but_decoded() -> None:
    doc, notes = one(frame(0x0200, location(43.2, 76.8), length=5))
    assert doc.tree["position"] == {"lat": 43.2, "lon": 76.8}
    assert notes == ["JT/T 808: header declares a 5-byte body, frame has 28"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (location(43.2, 76.8)[:20], "truncated"),
        (location(43.2, 76.8) + b"\x01\x09\x00", "overruns"),
        (location(43.2, 76.8) + b"\x01", "overruns"),
    ],
)
def test_broken_location_body_is_a_note(body: bytes, reason: str) -> None:
    doc, notes = one(frame(0x0200, body))
    assert len(notes) == 1 and reason in notes[0]
    assert doc.tree["terminal_phone"] == "13511221122"


def test_impossible_bcd_time_is_kept_raw() -> None:
    doc, _ = one(frame(0x0200, location(43.2, 76.8, time="2413aa000000")))
    assert doc.tree["time_raw"] == "2413aa000000"
    assert "time" not in doc.tree


def test_too_short_frame_is_a_note() -> None:
    docs, notes = decode(b"\x7e\x00\x02\x00\x7e" + frame(0x0002, b""))
    assert len(docs) == 1
    assert notes == ["JT/T 808: frame of 3 bytes is shorter than a header, frame skipped"]


STREAM = (
    frame(0x0100, registration(20, 7, 5, plate="苏BA6860".encode("gbk"), color=2))
    + frame(0x0200, location(-33.868820, 151.209296, extras=item(0x31, b"\x7e")))
    + bytes.fromhex(SAMPLES[0]["hex"])
    + frame(0x0002, b"", v2019=True)
)


def test_frames_split_at_every_byte_boundary_or_fed_byte_by_byte_decode_the_same() -> None:
    whole = split_everywhere(Stream, STREAM)
    assert len(whole) == 4 and decode(STREAM)[1] == []


def test_bytes_before_the_first_frame_raise_and_poison_the_stream() -> None:
    stream = Stream()
    with pytest.raises(StreamError):
        stream.feed(b"GET / HTTP/1.1\r\n" + frame(0x0002, b""))
    with pytest.raises(DecodeError):
        stream.feed(frame(0x0002, b""))


def test_bytes_between_frames_are_a_skipped_frame() -> None:
    # A frame's closing flag may open the next frame, so stray bytes after it read as one.
    docs, notes = decode(frame(0x0002, b"") + b"GET / HTTP/1.1\r\n" + frame(0x0003, b""))
    assert [d.tree["message"] for d in docs] == ["heartbeat", "logout"]
    assert notes == ["JT/T 808: checksum mismatch, frame skipped"]


def test_error_keeps_the_documents_decoded_earlier_in_the_feed() -> None:
    stream = Stream(max_frame=100)
    with pytest.raises(StreamError) as info:
        stream.feed(frame(0x0002, b"") + bytes(200))
    assert [d.tree["message"] for d in info.value.documents] == ["heartbeat"]


def test_frame_without_end_beyond_the_cap_raises() -> None:
    stream = Stream(max_frame=1024)
    assert stream.feed(b"\x7e" + bytes(1000)) == []
    with pytest.raises(DecodeError, match="1024"):
        stream.feed(bytes(100))


def test_truncated_frame_waits_for_more() -> None:
    data = frame(0x0002, b"")
    stream = Stream()
    assert stream.feed(data[:-1]) == []
    assert [d.tree["message"] for d in stream.feed(data[-1:])] == ["heartbeat"]


@pytest.mark.parametrize("data", FOREIGN)
def test_other_protocols_do_not_look_like_jt808(data: bytes) -> None:
    assert not looks_like(data)


def test_looks_like_never_raises_on_short_input() -> None:
    data = bytes.fromhex(SAMPLES[0]["hex"])
    for n in range(len(data) + 1):
        assert looks_like(data[:n]) is (n == len(data))


def test_module_metadata() -> None:
    assert jt808.NAME == "jt808"
    assert 5015 in jt808.DEFAULT_PORTS


# --- fuzzing ------------------------------------------------------------------------------


def _refit(data: bytes, fix_length: bool) -> bytes:
    """Unescape a mutated frame's inside, optionally fix the body length, then re-wrap it."""
    inner = data.strip(b"\x7e").replace(b"\x7e", b"")
    inner = inner.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")[:-1]
    if fix_length and len(inner) >= 12:
        props = int.from_bytes(inner[2:4], "big")
        header = (17 if props & 0x4000 else 12) + (4 if props & 0x2000 else 0)
        size = max(0, len(inner) - header) & 0x03FF
        inner = inner[:2] + ((props & 0xFC00) | size).to_bytes(2, "big") + inner[4:]
    return wrap(inner)


VALID = [bytes.fromhex(s["hex"]) for s in SAMPLES] + [
    frame(0x8105, b"\x01http://x;a;b;c;d;1;2;m;h;f;3"),
    frame(0x8103, b"\x06" + PARAMETERS),
    frame(0x0107, b"\x00\x07" + bytes(52)),
    frame(0x0200, location(1.0, 2.0)[:20], serial=9, packet=(2, 1)),
]


def _feed_all(chunks: list[bytes], from_client: bool) -> None:
    survives(partial(Stream, from_client=from_client, max_frame=8192), chunks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=4), st.booleans())
def test_random_bytes_only_raise_decode_error(chunks: list[bytes], from_client: bool) -> None:
    _feed_all(chunks, from_client)
    _feed_all([b"\x7e" + chunk.replace(b"\x7e", b"") + b"\x7e" for chunk in chunks], from_client)
    for chunk in chunks:
        looks_like(chunk)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_mutated_frames_only_raise_decode_error(
    valid: bytes, edits: list[tuple[int, int]], refit: bool, fix_length: bool
) -> None:
    data = bytearray(valid)
    for where, value in edits:
        data[1 + where % (len(data) - 2)] = value
    mutated = _refit(bytes(data), fix_length) if refit else bytes(data)
    _feed_all([mutated], True)
    _feed_all([mutated[: len(mutated) // 2], mutated[len(mutated) // 2 :], valid], False)
    looks_like(mutated)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.integers(3, 200), st.binary(max_size=40), st.booleans())
def test_truncated_and_padded_bodies_only_raise_decode_error(
    valid: bytes, cut: int, tail: bytes, fix_length: bool
) -> None:
    _feed_all([_refit(valid[:cut] + tail + b"\x00\x7e", fix_length)], True)
