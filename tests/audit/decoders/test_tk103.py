"""TK103 and GPS103 reports, logins, VIN, cells, server commands, errors and detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import tk103
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

SAMPLES = load_samples("tk103")
IMEI = "355227045009305"  # Luhn-valid
VIN = "5J6RW2H53HL066029"


def block(lat: str = "4315.1234N", lon: str = "07656.4321E", *, date: str = "240517") -> str:
    """The classic position block: date, fix, lat, lon, speed, time, course, io, mileage."""
    return f"{date}A{lat}{lon}012.5083015270.00" + "01000000" + "L0000015F"


def classic(device_id: str, command: str, payload: str = "") -> bytes:
    return f"({device_id}{command}{payload})".encode()


def test_position_sample() -> None:
    sample = SAMPLES[0]
    expected = sample["expected_fields"]
    (doc,) = split_everywhere(tk103.Stream, sample_bytes(sample))
    assert doc.source == "tk103.br00"
    assert (doc.tree["device_id"], doc.tree["message_type"]) == (expected["device_id"], "BR00")
    assert doc.tree["time"].startswith(expected["date"])
    assert doc.tree["position"]["lat"] == pytest.approx(expected["lat"], abs=1e-6)
    assert doc.tree["position"]["lon"] == pytest.approx(expected["lon"], abs=1e-6)
    assert categories([doc]) == {Category.LOCATION}


def test_vin_sample() -> None:
    sample = SAMPLES[1]
    (doc,) = decode(tk103.Stream, sample_bytes(sample))[0]
    assert doc.tree["vin"] == sample["expected_fields"]["vin"]
    assert doc.tree["device_id"] == sample["expected_fields"]["device_id"]
    assert categories([doc]) == {Category.VIN}


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("4315.1234N", "07656.4321E", (43.252057, 76.940535)),
        ("4315.1234S", "07656.4321W", (-43.252057, -76.940535)),
        ("4000.5775N", " 8415.4076W", (40.009625, -84.256793)),
    ],
)
def test_position_block_hemispheres(lat: str, lon: str, expected: tuple[float, float]) -> None:
    (doc,) = decode(tk103.Stream, classic("027023361470", "BR00", block(lat, lon)))[0]
    assert doc.tree["position"] == pytest.approx({"lat": expected[0], "lon": expected[1]}, abs=1e-6)
    assert doc.tree["time"] == "2024-05-17T08:30:15+00:00"  # YYMMDD in the classic form


def test_login_with_imei_and_position() -> None:
    (doc,) = split_everywhere(tk103.Stream, classic("027045009305", "BP05", IMEI + block()))
    assert doc.tree["imei"] == IMEI and "position" in doc.tree
    assert categories([doc]) == {Category.IMEI, Category.LOCATION}


def test_login_with_imei_and_cells() -> None:
    payload = IMEI + ",{401,1,30073,16724}\n{401,1,30073,16730}\n,01000000"
    (doc,) = decode(tk103.Stream, classic("027045009305", "BP05", payload))[0]
    assert [c["cell_id"] for c in doc.tree["cells"]] == [16724, 16730]


def test_alarm_and_broken_clock_keeps_the_position() -> None:
    (doc,) = decode(tk103.Stream, classic("013612345678", "BO01", "2" + block(date="061830")))[0]
    assert doc.tree["alarm"] == "sos"
    assert doc.tree["time_raw"].startswith("061830") and "position" in doc.tree


def test_cells_in_flat_hex_form() -> None:
    payload = ",401,001,3bf7,0425,3bf7,0bf5,01000000"
    (doc,) = decode(tk103.Stream, classic("087073104337", "BZ00", payload))[0]
    assert doc.tree["cells"] == [
        {"mcc": 401, "mnc": 1, "lac": "3bf7", "cell_id": "0425"},
        {"mcc": 401, "mnc": 1, "lac": "3bf7", "cell_id": "0bf5"},
    ]


def test_comma_variant_position_and_wifi() -> None:
    data = (
        b"(864768010009188,BP05,240517,A,4315.1234N,07656.4321E,4.80,083015,155.49)"
        b"(864555555555555,DW5B,401,1,5995,47701,2,30:EE:CC:E7:86:DD*-59*11,"
        b"4C:60:CC:EA:BB:EE*-68*1,151117,163722)"
    )
    position, wifi = split_everywhere(tk103.Stream, data)
    assert position.tree["time"] == "2017-05-24T08:30:15+00:00"  # DDMMYY in this form
    assert position.tree["position"]["lat"] == pytest.approx(43.252057, abs=1e-6)
    assert [w["mac"] for w in wifi.tree["wifi"]] == ["30:EE:CC:E7:86:DD", "4C:60:CC:EA:BB:EE"]
    assert Category.MAC_ADDRESS in categories([wifi])


def test_gps103_lines() -> None:
    data = (
        b"##,imei:" + IMEI.encode() + b",A;" + IMEI.encode() + b";"
        b"imei:" + IMEI.encode() + b",help me,1705240830,77011234567,F,083015.000,A,"
        b"4315.1234,N,07656.4321,W,0.00,27.91,,0,0,,,;"
        b"imei:" + IMEI.encode() + b",tracker,0000000119,,L,,,0FB6,,CB5D,,,;"
    )
    login, heartbeat, fix, cell = split_everywhere(tk103.Stream, data)
    assert (login.source, heartbeat.source) == ("tk103.gps103.login", "tk103.gps103.heartbeat")
    assert login.tree["imei"] == heartbeat.tree["imei"] == IMEI
    assert fix.source == "tk103.gps103.help_me"
    assert fix.tree["phone"] == "77011234567"
    assert fix.tree["position"] == pytest.approx({"lat": 43.252057, "lon": -76.940535}, abs=1e-6)
    assert fix.tree["time"] == "2017-05-24T08:30:15+00:00"
    assert categories([fix]) == {Category.IMEI, Category.PHONE, Category.LOCATION}
    assert cell.tree["cell"] == {"lac": "0FB6", "cell_id": "CB5D"}


def test_server_commands() -> None:
    stream = tk103.Stream(from_client=False)
    stop, resume, locate, gps_stop = stream.feed(
        b"(027028258309AV010)(027028258309AV011)(027028258309AP00)LOAD"
        b"**,imei:" + IMEI.encode() + b",J;ON"
    )
    assert stop.source == "tk103.down.av01"
    assert (stop.tree["command"], stop.tree["control"]) == ("oil/power relay", "cut oil/power")
    assert resume.tree["control"] == "restore oil/power"
    assert locate.tree["command"] == "request position"
    assert (gps_stop.tree["command"], gps_stop.tree["imei"]) == ("stop engine", IMEI)


def test_server_acknowledgement_words_may_be_split() -> None:
    stream = tk103.Stream(from_client=False)
    assert stream.feed(b"LO") == []
    assert stream.feed(b"AD(027028258309AP00)")[0].tree["command_code"] == "AP00"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"(12BR00)", "no device id"),
        (b"(027023361470BR00nonsense)", "no position block"),
        (b"(027023361470BR00240517A9130.0000N07656.4321E012.5083015270.00)", "out of range"),
        (b"imei;", "without 'imei:'"),
        (b"(027023361470BR00\x07)", "control"),
    ],
)
def test_content_errors_are_notes(data: bytes, reason: str) -> None:
    documents, notes = decode(tk103.Stream, data)
    assert documents == [] and len(notes) == 1 and reason in notes[0].reason


@pytest.mark.parametrize("data", [b"\x78\x78\x0d\x01", b"(" + b"1" * 5000, b"XYZ"])
def test_framing_errors_poison_the_stream(data: bytes) -> None:
    stream = tk103.Stream()
    with pytest.raises(DecodeError):
        stream.feed(data)
    with pytest.raises(DecodeError):
        stream.feed(sample_bytes(SAMPLES[0]))


def test_server_garbage_is_a_framing_error() -> None:
    with pytest.raises(DecodeError, match="unexpected server bytes"):
        tk103.Stream(from_client=False).feed(b"OK?")


def test_looks_like() -> None:
    claims_only_its_own(
        tk103.looks_like,
        tk103.NAME,
        [
            *(sample_bytes(s) for s in SAMPLES),
            b"imei:" + IMEI.encode() + b",tracker,",
            b"(864768010009188,BP05,240517,A",
        ],
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_looks_like_random_bytes(data: bytes) -> None:
    if tk103.looks_like(data):
        assert data[:1] == b"(" or data.startswith((b"imei:", b"##,imei:"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(tk103.Stream, chunks)
    survives(lambda: tk103.Stream(from_client=False), chunks)


VALID = [
    *(sample_bytes(s) for s in SAMPLES),
    classic("027045009305", "BP05", IMEI + block()),
    b"(864555555555555,DW5B,401,1,5995,47701,1,30:EE:CC:E7:86:DD*-59*11,151117,163722)",
    b"imei:" + IMEI.encode() + b",tracker,1705240830,,F,083015.000,A,4315.1234,N,07656.4321,E,0,;",
    b"**,imei:" + IMEI.encode() + b",J;",
]


@settings(max_examples=300, deadline=None)
@given(mutated(VALID))
def test_mutated_frames_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(tk103.Stream, chunks)
    survives(lambda: tk103.Stream(from_client=False), chunks)
