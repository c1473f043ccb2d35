"""Raw NMEA streams: fixes from RMC/GGA/GLL, other sentences, checksums, junk lines, caps."""

from __future__ import annotations

import functools
import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders import nmea
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.model import Category

from .tracker_checks import FOREIGN_STARTS, categories, decode, split_everywhere, survives

# The NMEA 0183 textbook sentences (they carry their own checksums).
RMC = b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
GGA = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
GLL = b"$GPGLL,4916.45,N,12311.12,W,225444,A,*1D\r\n"
GSV = b"$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74\r\n"


def sentence(body: str) -> bytes:
    """``$body*hh\\r\\n`` with the XOR checksum computed here."""
    checksum = functools.reduce(operator.xor, body.encode(), 0)
    return f"${body}*{checksum:02X}\r\n".encode()


def test_textbook_stream() -> None:
    rmc, gga, gll, gsv = split_everywhere(nmea.Stream, RMC + GGA + GLL + GSV)
    assert rmc.source == "nmea.rmc"
    assert rmc.tree["position"] == pytest.approx({"lat": 48.1173, "lon": 11.516667}, abs=1e-6)
    assert rmc.tree["time"] == "1994-03-23T12:35:19+00:00"
    assert (rmc.tree["speed_knots"], rmc.tree["course"]) == (22.4, 84.4)
    assert (gga.tree["altitude"], gga.tree["fix_quality"]) == (545.4, 1)
    assert gll.tree["position"] == pytest.approx({"lat": 49.274167, "lon": -123.185333}, abs=1e-6)
    assert gsv.tree["fields"]["num_sv_in_view"] == "11"
    assert categories([rmc, gga, gll]) == {Category.LOCATION}
    assert categories([gsv]) == set()


@pytest.mark.parametrize(
    ("ns", "ew", "lat", "lon"),
    [("N", "E", 43.252057, 76.940535), ("S", "W", -43.252057, -76.940535)],
)
def test_generated_rmc_hemispheres(ns: str, ew: str, lat: float, lon: float) -> None:
    data = sentence(f"GNRMC,083015.00,A,4315.12342,{ns},07656.43210,{ew},0.5,270.0,240517,,,A")
    (doc,) = decode(nmea.Stream, data)[0]
    assert doc.tree["talker"] == "GN"
    assert doc.tree["position"] == pytest.approx({"lat": lat, "lon": lon}, abs=1e-6)
    assert doc.tree["time"] == "2017-05-24T08:30:15+00:00"


def test_fix_without_position_has_no_position() -> None:
    (doc,) = decode(nmea.Stream, sentence("GPRMC,083015,V,,,,,,,240517,,,N"))[0]
    assert "position" not in doc.tree and doc.tree["status"] == "V"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (RMC.replace(b"*6A", b"*6B"), "checksum mismatch"),
        (b"hello\r\n", "not an NMEA sentence"),
        (b"$GPRMC,\x01*00\r\n", "control"),
        (sentence("GPRMC,083015,A,9915.1,N,07656.4,E,0,0,240517,,"), "out of range"),
    ],
)
def test_bad_lines_are_notes_and_the_stream_goes_on(data: bytes, reason: str) -> None:
    documents, notes = decode(nmea.Stream, data + GLL)
    assert [d.source for d in documents] == ["nmea.gll"]
    assert len(notes) == 1 and reason in notes[0].reason


def test_long_line_is_refused() -> None:
    stream = nmea.Stream()
    with pytest.raises(DecodeError, match="line break"):
        stream.feed(b"$GPRMC," + b"1" * 2000)
    with pytest.raises(DecodeError):
        stream.feed(RMC)


def test_looks_like() -> None:
    assert nmea.looks_like(RMC) and nmea.looks_like(GSV)
    assert not nmea.looks_like(b"$GPRMC,123519,A,4807.038,N")  # no checksum yet
    assert not nmea.looks_like(b"*HQ,4106011660,V1,083015,A#")
    assert not nmea.looks_like(b"$\x41\x06\x01\x16\x60")  # H02 binary
    for start in FOREIGN_STARTS:
        assert not nmea.looks_like(start)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_looks_like_random_bytes(data: bytes) -> None:
    if nmea.looks_like(data):
        assert data[:1] in (b"$", b"!") and b"*" in data


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_random_bytes_only_raise_decode_error(chunks: list[bytes]) -> None:
    survives(nmea.Stream, chunks)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="$GPRMCA,.0123456789NSEW*", max_size=90))
def test_near_sentences_only_raise_decode_error(text: str) -> None:
    survives(nmea.Stream, [text.encode() + b"\r\n"])
