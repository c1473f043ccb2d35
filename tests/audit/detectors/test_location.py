from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.decoders.tree import KeyValues
from shekara.audit.detectors.location import coordinate_pair, polyline_track
from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"
ALMATY = "43.238949,76.889709"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
MUNICH = "48.117300,11.516667"
POLYLINE = "_p~iF~ps|U_ulLnnqC_mqNvxq`@"  # Google's documented example


@pytest.mark.parametrize(
    "tree, expected",
    [
        # dicts with a latitude-ish and a longitude-ish key: one hit at the latitude
        ({"lat": 43.238949, "lon": 76.889709}, [(f"{B}.lat", ALMATY)]),
        ({"latitude": "43.238949", "longitude": "76.889709"}, [(f"{B}.latitude", ALMATY)]),
        (
            {"data": {"attributes": {"gpsLatitude": 43.238949, "gpsLongitude": 76.889709}}},
            [(f"{B}.data.attributes.gpsLatitude", ALMATY)],
        ),
        (
            {"drive_state": {"native_latitude": 59.917045, "native_longitude": 7.981791}},
            [(f"{B}.drive_state.native_latitude", "59.917045,7.981791")],
        ),
        ({"est_lat": 43.238949, "est_lng": 76.889709}, [(f"{B}.est_lat", ALMATY)]),
        ({"Lat": -33.8688, "Long": 151.2093}, [(f"{B}.Lat", "-33.868800,151.209300")]),
        ({"coord": {"lon": 76.889709, "lat": 43.238949}}, [(f"{B}.coord.lat", ALMATY)]),
        # scaled integers: 1e-6 (GB/T 32960, JT/T 808) and 1e-7 (Teltonika, Google E7)
        ({"lat": 43238949, "lon": 76889709}, [(f"{B}.lat", ALMATY)]),
        ({"latitudeE7": 432389490, "longitudeE7": 768897090}, [(f"{B}.latitudeE7", ALMATY)]),
        ({"lat": 481523066, "lng": 163745183}, [(f"{B}.lat", "48.152307,16.374518")]),
        # "lat,lon" strings
        ({"location": "49.60688,6.15788"}, [(f"{B}.location", "49.606880,6.157880")]),
        ({"ll": "43.2,76.9"}, [(f"{B}.ll", "43.200000,76.900000")]),
        ({"where": "43.2389,76.8897"}, [(f"{B}.where", "43.238900,76.889700")]),
        ({"pos": "(43.238949; 76.889709)"}, [(f"{B}.pos", ALMATY)]),
        # GeoJSON: coordinates are lon, lat
        (
            {"geometry": {"type": "Point", "coordinates": [76.889709, 43.238949]}},
            [(f"{B}.geometry.coordinates", ALMATY)],
        ),
        (
            {"type": "LineString", "coordinates": [[76.889709, 43.238949], [76.9, 43.25]]},
            [(f"{B}.coordinates", ALMATY)],
        ),
        # tracks: one hit at the list, canonical = first point
        ({"track": [[43.238949, 76.889709], [43.25, 76.9]]}, [(f"{B}.track", ALMATY)]),
        (
            {"points": [{"lat": 43.238949, "lng": 76.889709}, {"lat": 43.25, "lng": 76.9}]},
            [(f"{B}.points", ALMATY)],
        ),
        (
            [
                {"latitude": 43.238949, "longitude": 76.889709},
                {"latitude": 43.2, "longitude": 76.8},
            ],
            [(B, ALMATY)],
        ),
        # NMEA and encoded polylines
        ({"nmea": RMC}, [(f"{B}.nmea", MUNICH)]),
        ({"raw": GGA}, [(f"{B}.raw", MUNICH)]),
        ("log line\r\n" + RMC + "\r\n", [(B, MUNICH)]),
        (
            {"overview_polyline": {"points": POLYLINE}},
            [(f"{B}.overview_polyline.points", "38.500000,-120.200000")],
        ),
        ({"polyline": POLYLINE}, [(f"{B}.polyline", "38.500000,-120.200000")]),
        # a single [lat, lon] pair under a location key
        ({"coords": [43.238949, 76.889709]}, [(f"{B}.coords", ALMATY)]),
        ({"coords": [176.889709, 43.238949]}, [(f"{B}.coords", "43.238949,176.889709")]),
        # ... but under GeoJSON's own key name, GeoJSON's order, even without "type"
        ({"coordinates": [76.889709, 43.238949]}, [(f"{B}.coordinates", ALMATY)]),
        # free text
        ({"msg": "parked at 43.238949,76.889709 near the mall"}, [(f"{B}.msg", ALMATY)]),
    ],
)
def test_location_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.LOCATION) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"soc": 76.5},
        {"cabin_temp": 43.2},
        {"lat": 43.2},  # no longitude
        {"lon": 76.9},
        {"x": 1024, "y": 768},  # screen size
        {"x": 76.889709, "y": 43.238949},  # x/y are never taken as coordinates
        {"version": "43.2.1"},
        {"ts": 1700000000000},
        {"lat": 0, "lon": 0},  # unset GPS
        {"lat": 0.0, "lon": 0.0},
        {"lat": 95.0, "lon": 76.9},
        {"lat": 43.2, "lon": 190.5},
        {"lat": "abc", "lon": "def"},
        {"lat": "43.2.1", "lon": "76.1.2"},
        {"lat": True, "lon": False},
        {"lat": None, "lon": None},
        {"lat": "nan", "lon": "inf"},
        {"lat": float("nan"), "lon": 76.9},
        {"lat": 43238949, "lon": 76},  # mixed scales
        {"lat": 12, "lon": 9999999999},
        {"a": {"lat": 43.2}, "b": {"lon": 76.9}},  # not side by side
        {"x": "43.2,76.9"},  # few decimals and no location key
        {"range": "1.5,2.5"},
        {"location": "Almaty, Kazakhstan"},
        {"route": "HOME"},
        {"path": "/api/v1/vehicles"},
        {"polyline": "abcdefghij"},  # no polyline punctuation
        {"polyline": "?"},
        {"encoded": "@@@@@@@@"},  # decodes to ~(0, 0)
        {"nmea": RMC.replace("*6A", "*6B")},  # bad checksum
        {"nmea": "$GPRMC,,V,,,,,,,,,,N*53"},  # no fix
        {"track": [[1024, 768], [800, 600]]},
        {"sizes": [[43.2, 76.9], [43.3, 77.0]]},  # pairs without a track key
        {"coords": [1, 2]},  # whole numbers
        {"coords": [43.2]},
        {"readings": [43.2, 76.9]},  # a list of floats without a location key
        {"type": "Point", "coordinates": [0, 0]},
    ],
)
def test_location_not_found(tree: Any) -> None:
    assert found(tree, Category.LOCATION) == []


def test_track_of_dicts_is_one_hit_not_one_per_point() -> None:
    points = [{"lat": 43.2 + i / 100, "lon": 76.9, "speed": 50.5} for i in range(5)]
    (hit,) = hits({"route": points}, Category.LOCATION)
    assert hit.field.locator == f"{B}.route"
    assert hit.evidence == "track of 5 points"
    assert hit.canonical == "43.200000,76.900000"


def test_geojson_order_is_lon_lat() -> None:
    (hit,) = hits({"type": "Point", "coordinates": [76.889709, 43.238949]}, Category.LOCATION)
    assert hit.canonical == ALMATY  # not 76.889709,43.238949
    assert hit.field.value is None


def test_pair_field_holds_the_latitude() -> None:
    (hit,) = hits({"lat": 43.238949, "lon": 76.889709}, Category.LOCATION)
    assert hit.field.key == "lat"
    assert hit.field.value == 43.238949


def test_flat_source_uses_bare_keys() -> None:
    tree = KeyValues(lat="49.60688", lon="6.15788", timestamp="1401869411")
    (hit,) = hits(tree, Category.LOCATION, source="request.query")
    assert hit.field.locator == "request.query:lat"
    assert hit.canonical == "49.606880,6.157880"


@pytest.mark.parametrize(
    "lat, lon, confidence",
    [
        (43.238949, 76.889709, Confidence.HIGH),
        (43238949, 76889709, Confidence.HIGH),
        (43, 76, Confidence.LOW),  # whole degrees: coarse
    ],
)
def test_pair_confidence(lat: Any, lon: Any, confidence: Confidence) -> None:
    match = coordinate_pair(lat, lon)
    assert match is not None and match.confidence is confidence


def test_polyline_needs_two_points() -> None:
    assert polyline_track("_p~iF~ps|U") is None  # one point
    found_ = polyline_track(POLYLINE)
    assert found_ is not None and "3 points" in found_.evidence
