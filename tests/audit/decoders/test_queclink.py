"""Queclink @Track reports (lon before lat), ICCID, VIN, acks, AT commands, errors, detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import queclink
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

SAMPLES = {s["source"].rsplit("#", 1)[1]: s for s in load_samples("queclink")}
IMEI = "868487004353181"


def report(kind: str, *fields: str, head: str = "+RESP") -> bytes:
    return f"{head}:{kind},{','.join(fields)}$".encode()


def point(
    lon: str = "76.940535", lat: str = "43.252057", stamp: str = "20240517083015"
) -> list[str]:
    """accuracy, speed, azimuth, altitude, LONGITUDE, LATITUDE, UTC time, mcc, mnc, lac, cid."""
    return ["1", "12.5", "270", "850.0", lon, lat, stamp, "0401", "0001", "1A2B", "3C4D5E"]


def test_fri_sample() -> None:
    sample = SAMPLES["L15"]
    expected = sample["expected_fields"]
    (doc,) = split_everywhere(queclink.Stream, sample_bytes(sample))
    tree = doc.tree
    assert (doc.source, tree["imei"], tree["device_name"]) == (
        "queclink.gtfri", expected["imei"], expected["device_name"])  # fmt: skip
    assert tree["position"] == {"lat": expected["lat"], "lon": expected["lon"]}
    assert tree["time"] == expected["fix_time_utc"].replace(" ", "T") + "+00:00"
    assert (tree["cell"]["mcc"], tree["cell"]["mnc"]) == (460, 1)
    assert categories([doc]) == {Category.IMEI, Category.LOCATION, Category.CELL_LOCATION}


def test_inf_sample_carries_the_iccid() -> None:
    sample = SAMPLES["L75"]
    (doc,) = decode(queclink.Stream, sample_bytes(sample))[0]
    assert doc.tree["imei"] == sample["expected_fields"]["imei"]
    assert doc.tree["iccid"] == sample["expected_fields"]["iccid"]
    assert categories([doc]) == {Category.IMEI, Category.ICCID}


def test_can_sample_carries_the_vin() -> None:
    sample = SAMPLES["L127"]
    expected = sample["expected_fields"]
    (doc,) = decode(queclink.Stream, sample_bytes(sample))[0]
    assert doc.tree["vin"] == expected["vin"]
    assert doc.tree["position"] == {"lat": expected["lat"], "lon": expected["lon"]}
    assert categories([doc]) == {Category.IMEI, Category.VIN, Category.LOCATION}


@pytest.mark.parametrize("kind", ["GTFRI", "GTGEO", "GTSOS", "GTRTL", "GTSPD"])
def test_position_reports_find_lon_before_lat(kind: str) -> None:
    data = report(kind, "F10413", IMEI, "truck", "0", "0", "1", *point(), "0.0", "20240517083016",
                  "1F2E")  # fmt: skip
    (doc,) = decode(queclink.Stream, data)[0]
    assert doc.source == f"queclink.{kind.lower()}"
    assert doc.tree["position"] == {"lat": 43.252057, "lon": 76.940535}
    assert doc.tree["send_time"] == "2024-05-17T08:30:16+00:00"
    assert doc.tree["cell"] == {"mcc": 401, "mnc": 1, "lac": "1A2B", "cell_id": "3C4D5E"}


def test_several_points_become_a_track() -> None:
    data = report("GTFRI", "F10413", IMEI, "", "0", "0", "2",
                  *point(), *point("-76.940535", "-43.252057", "20240517083020"),
                  "20240517083021", "0001")  # fmt: skip
    (doc,) = decode(queclink.Stream, data)[0]
    assert [p["position"] for p in doc.tree["points"]] == [
        {"lat": 43.252057, "lon": 76.940535},
        {"lat": -43.252057, "lon": -76.940535},
    ]
    assert Category.LOCATION in categories([doc])


def test_buffered_report_and_vin_before_the_name() -> None:
    data = report("GTFRI", "F10413", IMEI, "3BKHHZ8X7GF723380", "car", "0", "0", "1", *point(),
                  "20240517083021", "0001", head="+BUFF")  # fmt: skip
    (doc,) = decode(queclink.Stream, data)[0]
    assert doc.tree["buffered"] is True
    assert (doc.tree["vin"], doc.tree["device_name"]) == ("3BKHHZ8X7GF723380", "car")


def test_ack_and_several_frames_per_chunk() -> None:
    data = (
        report("GTOUT", "270403", IMEI, "", "0000", "20100214093254", "11F0", head="+ACK")
        + b"\r\n"
        + sample_bytes(SAMPLES["L15"])
        + sample_bytes(SAMPLES["L75"])
    )
    ack, fri, inf = split_everywhere(queclink.Stream, data)
    assert (ack.tree["ack_for"], ack.tree["report"]) == ("GTOUT", "ACK")
    assert (fri.source, inf.source) == ("queclink.gtfri", "queclink.gtinf")


def test_output_command_is_remote_control_without_the_password() -> None:
    stream = queclink.Stream(from_client=False)
    on, off, rto = stream.feed(
        b"AT+GTOUT=s3cret,1,,,0,0,0,0,0,0,0,,,,,,,FFFF$"
        b"AT+GTOUT=s3cret,0,,,0,0,0,0,0,0,0,,,,,,,FFFF$+SACK:GTHBD,270403,11F0$"
        b"AT+GTRTO=s3cret,1,,,,,,FFFF$"
    )
    assert on.source == "queclink.down.gtout"
    assert (on.tree["command"], on.tree["control"]) == ("output control", "output on (immobilise)")
    assert off.tree["control"] == "output off"
    assert rto.tree["operation"] == "request position"
    for doc in (on, off, rto):
        assert doc.tree["password_present"] is True
        assert "s3cret" not in repr(doc.tree)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"+RESP:GTFRI,F10413$", "too few fields"),
        (b"+RESP:GTFRI,F10413,12345,x,1$", "no IMEI"),
        (b"+FOO:GTFRI,1,2,3$", "unknown frame"),
        (b"+RESP:GTFRI,F10413,868487004353181,\x01$", "control"),
    ],
)
def test_content_errors_are_notes(data: bytes, reason: str) -> None:
    documents, notes = decode(queclink.Stream, data)
    assert documents == [] and len(notes) == 1 and reason in notes[0].reason


def test_impossible_fix_time_keeps_the_position() -> None:
    data = report("GTFRI", "F10413", IMEI, "", "0", "0", "1", *point(stamp="20241317083015"))
    (doc,) = decode(queclink.Stream, data)[0]
    assert doc.tree["time_raw"] == "20241317083015" and "position" in doc.tree


@pytest.mark.parametrize(
    "data", [b"\x00\x01binary", b"+RSP:" + bytes(20), b"+RESP:GTFRI," + b"1" * 9000]
)
def test_framing_errors_poison_the_stream(data: bytes) -> None:
    stream = queclink.Stream()
    with pytest.raises(DecodeError):
        stream.feed(data)
    with pytest.raises(DecodeError):
        stream.feed(sample_bytes(SAMPLES["L15"]))


def test_looks_like() -> None:
    claims_only_its_own(
        queclink.looks_like, queclink.NAME, [*(sample_bytes(s) for s in SAMPLES.values())]
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_looks_like_random_bytes(data: bytes) -> None:
    if queclink.looks_like(data):
        assert data.startswith((b"+RESP:GT", b"+BUFF:GT", b"+ACK:GT"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(queclink.Stream, chunks)


VALID = [
    *(sample_bytes(s) for s in SAMPLES.values()),
    report("GTFRI", "F10413", IMEI, "", "0", "0", "2", *point(), *point(), "20240517083021", "1"),
    b"AT+GTOUT=s3cret,1,,,0,0,0,0,0,0,0,,,,,,,FFFF$",
]


@settings(max_examples=300, deadline=None)
@given(mutated(VALID))
def test_mutated_frames_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(queclink.Stream, chunks)
    survives(lambda: queclink.Stream(from_client=False), chunks)
