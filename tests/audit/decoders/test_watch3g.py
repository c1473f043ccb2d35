"""Kids' watch frames: positions, cells, Wi-Fi, phone book, SOS, covert-listening commands."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import watch3g
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.model import Category

from .tracker_checks import (
    DATA,
    categories,
    claims_only_its_own,
    decode,
    load_samples,
    mutated,
    sample_bytes,
    split_everywhere,
    survives,
)

SAMPLES = load_samples("watch3g")
EXTRA = json.loads((DATA / "watch3g.json").read_text(encoding="utf-8"))["extra_samples"]
MOTHER = "87011234567"  # a Kazakh mobile number written nationally
FATHER = "+77019876543"
ESCAPES = {ord("}"): b"}\x01", ord("["): b"}\x02", ord("]"): b"}\x03", ord(","): b"}\x04",
           ord("*"): b"}\x05"}  # fmt: skip


def frame(content: bytes | str, *, vendor: str = "3G", device_id: str = "4700186508",
          index: str | None = None, length: int | None = None) -> bytes:  # fmt: skip
    body = content.encode() if isinstance(content, str) else content
    size = len(body) if length is None else length
    head = f"[{vendor}*{device_id}*" + (f"{index}*" if index else "") + f"{size:04X}*"
    return head.encode() + body + b"]"


def utf16_hex(name: str) -> str:
    return name.encode("utf-16-be").hex().upper()


def escape(data: bytes) -> bytes:
    return b"".join(ESCAPES.get(byte, bytes([byte])) for byte in data)


UD = (
    "UD,170524,083015,A,43.252057,N,76.940535,E,12.5,270.0,850.0,9,80,77,1200,3,00000000,"
    "2,1,401,1,1234,5678,-70,1234,5679,-75,"
    "2,HomeNet,34:31:c4:c8:a9:22,-67,School,18:83:bf:28:e8:f4,-70,12.5"
)


def test_position_sample() -> None:
    sample = SAMPLES[0]
    expected = sample["expected_fields"]
    (doc,) = split_everywhere(watch3g.Stream, sample_bytes(sample))
    tree = doc.tree
    assert (tree["vendor"], tree["device_id"], tree["message_type"]) == (
        expected["vendor"], expected["device_id"], expected["cmd"])  # fmt: skip
    assert tree["time"] == expected["time"].replace(" ", "T") + "+00:00"
    assert tree["position"]["lat"] == pytest.approx(expected["lat"], abs=1e-5)
    assert tree["position"]["lon"] == pytest.approx(expected["lon"], abs=1e-5)
    assert tree["position"] == {"lat": 22.571707, "lon": 113.8613968}
    assert {cell["mcc"] for cell in tree["cells"]} == {expected["mcc"]}
    assert len(tree["cells"]) == 4
    assert categories([doc]) == {Category.LOCATION, Category.CELL_LOCATION}


def test_sample_length_field_lies_and_brackets_frame_it() -> None:
    # The sample says 0x87 = 135 bytes of content but carries 143: SG firmware does that.
    raw = sample_bytes(SAMPLES[0])
    assert int(raw.split(b"*")[2], 16) != len(raw.split(b"*", 3)[3]) - 1
    documents = split_everywhere(watch3g.Stream, raw + raw)
    assert len(documents) == 2


def test_heartbeat_sample() -> None:
    sample = SAMPLES[1]
    expected = sample["expected_fields"]
    (doc,) = decode(watch3g.Stream, sample_bytes(sample))[0]
    assert doc.source == "watch3g.lk"
    assert (doc.tree["steps"], doc.tree["rolls"], doc.tree["battery"]) == (
        expected["steps"], expected["rolls"], expected["battery"])  # fmt: skip


def test_position_with_cells_and_wifi() -> None:
    (doc,) = split_everywhere(watch3g.Stream, frame(UD))
    tree = doc.tree
    assert tree["position"] == {"lat": 43.252057, "lon": 76.940535}
    assert tree["time"] == "2024-05-17T08:30:15+00:00"
    assert tree["cells"][1] == {"mcc": 401, "mnc": 1, "lac": "1234", "cell_id": "5679", "rssi": -75}
    assert [w["mac"] for w in tree["wifi"]] == ["34:31:c4:c8:a9:22", "18:83:bf:28:e8:f4"]
    assert tree["accuracy"] == 12.5
    assert categories([doc]) == {Category.LOCATION, Category.MAC_ADDRESS, Category.CELL_LOCATION}


@pytest.mark.parametrize(
    ("ns", "ew", "lat", "lon"),
    [("N", "E", 43.252057, 76.940535), ("S", "W", -43.252057, -76.940535)],
)
def test_hemispheres(ns: str, ew: str, lat: float, lon: float) -> None:
    content = UD.replace(",N,", f",{ns},").replace(",E,", f",{ew},")
    (doc,) = decode(watch3g.Stream, frame(content))[0]
    assert doc.tree["position"] == {"lat": lat, "lon": lon}


def test_wifi_only_location_and_alarm() -> None:
    content = ("AL_LTE,170524,083015,V,0,N,0,E,0,0,0,0,0,22,0,0,00010000,0,"
               "1,Kids,60:45:cb:cb:34:68,-93,0.0")  # fmt: skip
    (doc,) = decode(watch3g.Stream, frame(content, vendor="ZJ", index="0003"))[0]
    assert (doc.tree["alarm"], doc.tree["index"]) == (True, "0003")
    assert doc.tree["wifi"] == [{"ssid": "Kids", "mac": "60:45:cb:cb:34:68", "rssi": -93}]
    assert categories([doc]) == {Category.MAC_ADDRESS}


def test_ssid_with_brackets() -> None:
    balanced = frame(UD.replace("HomeNet", "[LG_Wall-Mount A/C]e725"))
    (doc,) = split_everywhere(watch3g.Stream, balanced)
    assert doc.tree["wifi"][0]["ssid"] == "[LG_Wall-Mount A/C]e725"
    # Unbalanced brackets: only a correct length field frames them.
    documents, notes = decode(watch3g.Stream, frame(UD.replace("School", "]odd[")) + frame("LK"))
    assert notes == [] and documents[0].tree["wifi"][1]["ssid"] == "]odd["
    assert documents[1].tree["message_type"] == "LK"


def test_phone_book_from_the_server() -> None:
    content = f"PHB,{MOTHER},{utf16_hex('Мама')},{FATHER},{utf16_hex('Папа')},112,SOS"
    (doc,) = split_everywhere(lambda: watch3g.Stream(from_client=False), frame(content))
    assert doc.source == "watch3g.down.phb"
    assert doc.tree["command"] == "set phone book"
    assert doc.tree["contacts"] == [
        {"name": "Мама", "phone": MOTHER},
        {"name": "Папа", "phone": FATHER},
        {"name": "SOS", "phone": "112"},
    ]
    assert categories([doc]) == {Category.PHONE, Category.PERSON_NAME, Category.REMOTE_CONTROL}


def test_phone_book_name_first_and_plain_names() -> None:
    content = f"PHB2,Aigerim Bekova,{FATHER},{utf16_hex('Әже')},{MOTHER}"
    (doc,) = decode(watch3g.Stream, frame(content))[0]
    assert doc.tree["contacts"] == [
        {"name": "Aigerim Bekova", "phone": FATHER},
        {"name": "Әже", "phone": MOTHER},
    ]
    assert "command" not in doc.tree  # the watch uploading its own book


def test_sos_and_center_numbers() -> None:
    stream = watch3g.Stream(from_client=False)
    sos, sos2, center, monitor, call = stream.feed(
        frame(f"SOS,{MOTHER},,{FATHER}") + frame(f"SOS2,{FATHER}") + frame(f"CENTER,{MOTHER}")
        + frame(f"MONITOR,{FATHER}") + frame(f"CALL,{MOTHER}")
    )  # fmt: skip
    assert sos.tree["sos_numbers"] == [{"phone": MOTHER}, {"phone": FATHER}]
    assert (sos2.tree["slot"], sos2.tree["sos_numbers"]) == (2, [{"phone": FATHER}])
    assert center.tree["center_phone"] == MOTHER
    assert monitor.source == "watch3g.down.monitor"
    assert monitor.tree["command"] == "monitor (covert listening callback)"
    assert monitor.tree["phone"] == FATHER
    assert call.tree == {"device_id": "4700186508", "vendor": "3G", "message_type": "CALL",
                         "command": "call number", "phone": MOTHER}  # fmt: skip
    for doc in (sos, sos2, center, monitor, call):
        assert Category.PHONE in categories([doc])


def test_commands_acks_and_replies() -> None:
    down = watch3g.Stream(from_client=False)
    poweroff, find, ack, upload, sms = down.feed(
        frame("POWEROFF") + frame("FIND") + frame("LK") + frame("UPLOAD,600")
        + frame(f"SMS,{MOTHER},{utf16_hex('Сәлем')}")
    )  # fmt: skip
    assert (poweroff.tree["command"], find.tree["command"]) == ("power off", "find watch (ring)")
    assert ack.tree == {"device_id": "4700186508", "vendor": "3G", "message_type": "LK",
                        "ack_for": "LK"}  # fmt: skip
    assert upload.tree["params"] == ["600"]
    assert (sms.tree["phone"], sms.tree["sms_text"]) == (MOTHER, "Сәлем")
    (reply,) = watch3g.Stream().feed(frame("MONITOR"))
    assert reply.tree["reply_to"] == "MONITOR" and "command" not in reply.tree


@pytest.mark.parametrize("length_counts", ["unescaped", "escaped"])
def test_voice_message_binary_is_framed_and_unescaped(length_counts: str) -> None:
    audio = b"#!AMR\n" + bytes(range(256))
    body = b"TK," + escape(audio)
    size = 3 + len(audio) if length_counts == "unescaped" else len(body)
    data = frame(body, vendor="CS", length=size) + frame("LK,0,10,100")
    voice, heartbeat = split_everywhere(watch3g.Stream, data)
    assert voice.tree["binary_bytes"] == len(audio) and voice.tree["voice_message"] is True
    assert heartbeat.tree["battery"] == 100


def test_unescaped_binary_waits_for_its_declared_length() -> None:
    audio = bytes(range(256))  # raw brackets inside: only the length frames it
    data = frame(b"TK," + audio, vendor="CS") + frame("LK")
    voice, heartbeat = split_everywhere(watch3g.Stream, data)
    assert voice.tree["binary_bytes"] == 256 and heartbeat.tree["message_type"] == "LK"


def test_real_voice_stream_with_six_parts() -> None:
    extra = EXTRA[0]
    documents, notes = decode(watch3g.Stream, sample_bytes(extra))
    assert notes == [] and len(documents) == extra["expected_fields"]["frames"]
    assert {d.tree["message_type"] for d in documents} == {"JXTK"}
    assert {d.tree["imei"] for d in documents} == {"789468050042692"}


def test_real_chunk_with_four_frames() -> None:
    extra = EXTRA[1]
    expected = extra["expected_fields"]
    documents = split_everywhere(watch3g.Stream, sample_bytes(extra))
    assert [d.tree["message_type"] for d in documents] == expected["message_types"]
    assert documents[1].tree["position"] == {"lat": expected["lat"], "lon": expected["lon"]}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (frame(b"TK," + b"}\x09abc", vendor="CS", length=4), "bad escape"),
        (frame("UD,170524,083015,A,93.1,N,76.9,E"), "out of range"),
        (frame("UD,170524"), "too few fields"),
        (frame(UD.replace("2,1,401", "9,1,401")), "announces 9 cells"),
        (frame("1UD,1"), "bad content type"),
        (frame(b"UD,\xff\xfe"), "not UTF-8"),
    ],
)
def test_content_errors_are_notes(data: bytes, reason: str) -> None:
    documents, notes = decode(watch3g.Stream, data)
    assert documents == [] and len(notes) == 1 and reason in notes[0].reason


@pytest.mark.parametrize(
    "data",
    [b"LK,0,1]", b"[3G*4700186508*ZZZZ*LK]", b"[3G*" + b"1" * 60, b"\x78\x78\x0d\x01"],
)
def test_framing_errors_poison_the_stream(data: bytes) -> None:
    stream = watch3g.Stream()
    with pytest.raises(DecodeError):
        stream.feed(data)
    with pytest.raises(DecodeError):
        stream.feed(frame("LK"))


def test_frame_cap_is_enforced() -> None:
    with pytest.raises(DecodeError, match="cap"):
        watch3g.Stream(max_frame=256).feed(frame(b"TK," + bytes(400), vendor="CS"))
    stream = watch3g.Stream(max_frame=256)
    with pytest.raises(DecodeError, match="cap"):
        stream.feed(b"[CS*1234567890*0010*TK," + b"\x00" * 300)


def test_looks_like() -> None:
    claims_only_its_own(
        watch3g.looks_like, watch3g.NAME, [*(sample_bytes(s) for s in SAMPLES + EXTRA)]
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_looks_like_random_bytes(data: bytes) -> None:
    if watch3g.looks_like(data):
        assert data[:1] == b"[" and data.count(b"*") >= 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(watch3g.Stream, chunks)
    survives(lambda: watch3g.Stream(from_client=False), chunks)


VALID = [
    *(sample_bytes(s) for s in SAMPLES),
    frame(UD),
    frame(f"PHB,{MOTHER},{utf16_hex('Мама')},{FATHER},{utf16_hex('Папа')}"),
    frame(b"TK," + escape(bytes(range(64))), vendor="CS"),
    frame(f"MONITOR,{FATHER}", vendor="ZJ", index="0001"),
]


@settings(max_examples=300, deadline=None)
@given(mutated(VALID))
def test_mutated_frames_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(watch3g.Stream, chunks)
    survives(lambda: watch3g.Stream(from_client=False), chunks)
