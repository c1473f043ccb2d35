"""H02 text and binary reports, server commands, framing errors and detection end to end."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from shekara.audit.decoders import h02
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

SAMPLES = load_samples("h02")
IMEI = "868487004353181"  # Luhn-valid
ICCID = "8997103" + "10000000000" + luhn.calc_check_digit("899710310000000000")
PHONE = "77011234567"


def text(device_id: str, kind: str, *fields: str, vendor: str = "HQ") -> bytes:
    return f"*{vendor},{device_id},{kind},{','.join(fields)}#".encode()


def position_fields(lat: str = "4315.1234", ns: str = "N", lon: str = "07656.4321", ew: str = "E",
                    *, date: str = "240517") -> list[str]:  # fmt: skip
    return ["083015", "A", lat, ns, lon, ew, "012.50", "270", date]


def binary(device_id: str = "4106011660", *, north: bool = True, east: bool = True,
           long: bool = False) -> bytes:  # fmt: skip
    """The 32-byte (or 45-byte) BCD report, built from its documented layout."""
    flags = 0x02 | (0x04 if north else 0) | (0x08 if east else 0)
    digits = (
        device_id + "083015" + "240517" + "43151234" + "06" + "076564321" + f"{flags:x}"
        + "012" + "270" + "fffffbff" + "ff0024"
    )  # fmt: skip
    frame = b"$" + bytes.fromhex(digits)
    return frame + bytes(13) if long else frame


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["source"].rsplit("#", 1)[1])
def test_real_samples(sample: dict[str, object]) -> None:
    expected = sample["expected_fields"]
    assert isinstance(expected, dict)
    documents, notes = decode(h02.Stream, sample_bytes(sample))
    assert notes == []
    (doc,) = documents
    tree = doc.tree
    assert tree["device_id"] == expected["device_id"]
    assert tree["time"] == expected["time_utc"].replace(" ", "T") + "+00:00"
    assert tree["position"]["lat"] == pytest.approx(expected["lat"], abs=1e-5)
    assert tree["position"]["lon"] == pytest.approx(expected["lon"], abs=1e-5)
    if "mcc" in expected:
        assert (tree["cell"]["mcc"], tree["cell"]["mnc"]) == (expected["mcc"], expected["mnc"])
        # A 28-bit E-UTRAN cell id written before the 16-bit tracking area (4G firmware).
        assert (tree["cell"]["lac"], tree["cell"]["cell_id"]) == (0x7752, 0xD18E105)
        assert categories(documents) == {Category.LOCATION, Category.CELL_LOCATION}
    else:
        assert categories(documents) == {Category.LOCATION}


def test_sample_precision_to_a_micro_degree() -> None:
    documents, _ = decode(h02.Stream, sample_bytes(SAMPLES[1]))
    assert documents[0].tree["position"] == {"lat": 22.586295, "lon": 113.964855}


def test_v1_with_imei_and_cell() -> None:
    frame = text(IMEI, "V1", *position_fields(), "FFFFFBFF", "401", "01", "1a2b", "3c4d")
    (doc,) = split_everywhere(h02.Stream, frame)
    assert doc.source == "h02.v1"
    assert doc.tree["imei"] == IMEI
    assert doc.tree["position"] == pytest.approx({"lat": 43.252057, "lon": 76.940535}, abs=1e-6)
    assert doc.tree["cell"] == {"mcc": 401, "mnc": 1, "lac": 0x1A2B, "cell_id": 0x3C4D}
    assert doc.tree["time"] == "2017-05-24T08:30:15+00:00"
    assert categories([doc]) == {Category.IMEI, Category.LOCATION, Category.CELL_LOCATION}


@pytest.mark.parametrize(
    ("ns", "ew", "lat", "lon"),
    [("N", "E", 43.252057, 76.940535), ("S", "W", -43.252057, -76.940535)],
)
def test_hemispheres(ns: str, ew: str, lat: float, lon: float) -> None:
    (doc,) = decode(h02.Stream, text("4106011660", "V1", *position_fields(ns=ns, ew=ew)))[0]
    assert doc.tree["position"] == pytest.approx({"lat": lat, "lon": lon}, abs=1e-6)


def test_v19_carries_phone_and_iccid() -> None:
    frame = text("4209951296", "V19", *position_fields(), "", PHONE, ICCID + "?", "BFFFFBFF")
    (doc,) = decode(h02.Stream, frame)[0]
    assert (doc.tree["phone"], doc.tree["iccid"]) == (PHONE, ICCID)
    assert categories([doc]) == {Category.LOCATION, Category.PHONE, Category.ICCID}


def test_nbr_cell_list() -> None:
    frame = text("4109179024", "NBR", "103732", "401", "01", "0", "2", "8106", "32010", "23",
                 "8101", "22007", "25", "100217", "FFFFFBFF")  # fmt: skip
    (doc,) = split_everywhere(h02.Stream, frame)
    assert [c["cell_id"] for c in doc.tree["cells"]] == ["32010", "22007"]
    assert doc.tree["cells"][0]["mcc"] == 401
    assert doc.tree["time"] == "2017-02-10T10:37:32+00:00"


def test_nbr_shorter_than_announced_is_a_note() -> None:
    documents, notes = decode(h02.Stream, text("1", "NBR", "103732", "401", "01", "0", "5", "1"))
    assert documents == [] and "NBR" in notes[0].reason


def test_v4_reply_then_position() -> None:
    frame = text("2020916012", "V4", "S20", "OK", *position_fields(), vendor="TH")
    (doc,) = decode(h02.Stream, frame)[0]
    assert (doc.tree["reply_to"], doc.tree["result"]) == ("S20", ["OK"])
    assert "position" in doc.tree


def test_link_heartbeat_and_htbt() -> None:
    stream = h02.Stream()
    link, htbt = stream.feed(
        text("1600068860", "LINK", "112137", "20", "8", "67", "0", "0", "081116", "FFFFFBFF")
        + b"\r\n"
        + text(IMEI, "HTBT", "100")
    )
    assert (link.tree["battery"], link.tree["satellites"]) == (67, 8)
    assert htbt.tree == {"device_id": IMEI, "imei": IMEI, "message_type": "HTBT", "battery": 100}


def test_unknown_type_keeps_fields_for_the_detectors() -> None:
    (doc,) = decode(h02.Stream, text(IMEI, "XT", "1", "100"))[0]
    assert doc.tree["fields"] == ["1", "100"] and doc.source == "h02.xt"


@pytest.mark.parametrize(("north", "east"), [(True, True), (False, False)])
def test_binary_report(north: bool, east: bool) -> None:
    (doc,) = split_everywhere(h02.Stream, binary(north=north, east=east))
    sign_lat, sign_lon = (1 if north else -1), (1 if east else -1)
    assert doc.tree["position"] == pytest.approx(
        {"lat": sign_lat * 43.252057, "lon": sign_lon * 76.940535}, abs=1e-6
    )
    assert doc.tree["speed_knots"] == 12 and doc.tree["course"] == 270
    assert doc.tree["time"] == "2017-05-24T08:30:15+00:00"


def test_real_binary_frame_matches_its_text_twin() -> None:
    # traccar H02FrameDecoderTest: the same fix sent as binary, then as text.
    twin = bytes.fromhex("2441060116601245431311165035313006004318210e000000fffffbffff0024")
    documents = decode(h02.Stream, twin + b"*HQ,4106011660,V1,124552,A,5035.3129,N,"
                       b"00431.8211,E,000.20,000,131116,FFFFFBFF#")[0]  # fmt: skip
    binary_doc, text_doc = documents
    assert binary_doc.tree["position"]["lat"] == pytest.approx(50.58855, abs=1e-5)
    assert text_doc.tree["position"]["lat"] == pytest.approx(50.588548, abs=1e-5)


def test_long_binary_frames_once_the_size_is_known() -> None:
    stream = h02.Stream()
    assert len(stream.feed(binary(long=True) + b"*HQ,1,HTBT,1#")) == 2
    second = binary("4106000826", long=True)
    assert stream.feed(second[:32]) == []
    assert stream.feed(second[32:])[0].tree["device_id"] == "4106000826"


def test_several_frames_per_chunk_with_line_breaks() -> None:
    data = (text(IMEI, "V1", *position_fields()) + b"\r\n") * 3 + binary() + binary()
    documents = split_everywhere(h02.Stream, data)
    assert [d.source for d in documents] == ["h02.v1"] * 3 + ["h02.binary"] * 2


def test_commands_from_the_server() -> None:
    stream = h02.Stream(from_client=False)
    cut, restore, arm, sos = stream.feed(
        b"*HQ,4106011660,S20,130305,1,1#*HQ,4106011660,S20,130305,1,0#"
        b"*HQ,4106011660,SCF,130305,0,0#*HQ,4106011660,S5,130305,1,+77011234567#"
    )
    assert cut.source == "h02.down.s20"
    assert (cut.tree["command"], cut.tree["control"]) == ("oil/power relay", "cut oil/power")
    assert restore.tree["control"] == "restore oil/power"
    assert arm.tree["control"] == "arm"
    assert (sos.tree["command"], sos.tree["params"]) == ("h02 S5", ["1", "+77011234567"])
    # an unknown command is still a command, and its number is still found
    assert categories([sos]) == {Category.PHONE, Category.REMOTE_CONTROL}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"*HQ,4106011660,V1,083015,A,9130.0000,N,07656.4321,E,0,0,240517#", "out of range"),
        (b"*HQ,4106011660,V1,083015,A#", "too few fields"),
        (b"*XX,4106011660,V1#", "malformed"),
        (b"*HQ,41060ABC,V1#", "not numeric"),
        (b"*HQ,4106011660,V1,\x01#", "control"),
        ("*HQ,4106011660,V1,\udcff#".encode("utf-8", "surrogateescape"), "UTF-8"),
        (b"$" + bytes.fromhex("4a" * 31), "BCD"),
    ],
)
def test_content_errors_are_notes(data: bytes, reason: str) -> None:
    documents, notes = decode(h02.Stream, data)
    assert documents == []
    assert len(notes) == 1 and reason in notes[0].reason


@pytest.mark.parametrize(
    "data",
    [b"GET / HTTP/1.1\r\n", b"*HQ," + b"1" * 3000, b"$" + bytes(50)],
)
def test_framing_errors_poison_the_stream(data: bytes) -> None:
    stream = h02.Stream()
    with pytest.raises(DecodeError):
        stream.feed(data)
    with pytest.raises(DecodeError):
        stream.feed(text(IMEI, "HTBT", "1"))


def test_frame_cap_is_enforced() -> None:
    with pytest.raises(DecodeError, match="no '#'"):
        h02.Stream(max_frame=64).feed(b"*HQ," + b"1" * 100)


def test_looks_like() -> None:
    claims_only_its_own(h02.looks_like, h02.NAME, [*(sample_bytes(s) for s in SAMPLES), binary()])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_looks_like_random_bytes(data: bytes) -> None:
    # Only a vendor marker or a BCD binary frame (digits and a valid clock) may be claimed.
    if h02.looks_like(data):
        assert data[:4] in (b"*HQ,", b"*hq,", b"*TH,") or (data[:1] == b"$" and len(data) >= 16)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(h02.Stream, chunks)


VALID = [
    sample_bytes(SAMPLES[0]),
    sample_bytes(SAMPLES[1]),
    binary(),
    text("4109179024", "NBR", "103732", "401", "01", "0", "1", "8106", "32010", "23", "100217",
         "FFFFFBFF"),
    text(IMEI, "V4", "S20", "OK", *position_fields()),
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(mutated(VALID))
def test_mutated_frames_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(h02.Stream, chunks)
    survives(lambda: h02.Stream(from_client=False), chunks)
