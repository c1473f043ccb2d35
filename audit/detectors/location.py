"""Location detector: coordinate pairs in dicts, strings, GeoJSON, tracks, NMEA and polylines.

A single number never is a location (``{"soc": 76.5}``, ``{"lat": 43.2}`` alone):
latitude and longitude must come together, in range, and not both zero.
GCJ-02 (China's shifted datum) is still a location: only the range is tested.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polyline as polyline_codec
import pynmea2

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

Point = tuple[float, float]

_NUMBER = re.compile(r"\s*[-+]?\d{1,12}(?:\.\d{1,15})?\s*")
# Scaled integers below this are more likely flags or counters than micro-degrees.
_MIN_SCALED = 1000
_SCALES = {keys.SCALE_E6: (1e6,), keys.SCALE_E7: (1e7,)}
_DEFAULT_SCALES = (1e6, 1e7)  # GB/T 32960 and JT/T 808 use 1e6, Teltonika and Google 1e7

# "lat,lon", optionally in brackets or after "geo:".
_PAIR_TEXT = re.compile(
    r"\s*(?:geo:)?[(\[]?\s*([-+]?\d{1,3}(?:\.(\d{1,15}))?)\s*[,;]\s*"
    r"([-+]?\d{1,3}(?:\.(\d{1,15}))?)\s*[)\]]?\s*"
)
_MIN_DECIMALS_UNKEYED = 4  # ~11 m: sensor pairs are rarely written that finely
_NMEA = re.compile(r"\$(?:GP|GN|GL|GA|GB|BD)(?:RMC|GGA|GLL|GNS),[^\r\n$*]{0,200}\*[0-9A-Fa-f]{2}")
# Encoded polylines use the printable range '?'..'~'; real ones also use its punctuation,
# which plain words ("HOME", "primary") never do.
_POLYLINE = re.compile(r"[?-~]{6,}")
_POLYLINE_PUNCT = frozenset("?@[\\]^_`{|}~")
_MAX_POLYLINE = 1 << 20
_GEOJSON_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon"})


def canonical(point: Point) -> str:
    """``lat,lon`` with 6 decimals (about 0.1 m), the form that is hashed and masked."""
    return f"{point[0]:.6f},{point[1]:.6f}"


def in_range(lat: float, lon: float) -> bool:
    """Inside the globe and not the (0, 0) that unset GPS fields default to."""
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 and not (lat == 0.0 and lon == 0.0)


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    if kind is str and len(value) <= 32 and _NUMBER.fullmatch(value):
        return float(value)
    return None


def _integral(value: Any) -> bool:
    return type(value) is int or (type(value) is str and "." not in value)


def coordinate_pair(lat_value: Any, lon_value: Any, hints: int = 0) -> Match | None:
    """A Match for a latitude and a longitude value found side by side.

    Degrees (numbers or numeric strings) are taken as they are; integers outside
    the degree range are tried as 1e-6 and 1e-7 degrees (the key's E6/E7 suffix
    decides when present). Whole degrees are too coarse to be sure of: LOW.
    """
    lat = _number(lat_value)
    lon = _number(lon_value)
    if lat is None or lon is None:
        return None
    integral = _integral(lat_value) and _integral(lon_value)
    scale_hint = hints & (keys.SCALE_E6 | keys.SCALE_E7)
    if integral and (scale_hint or abs(lat) > 90 or abs(lon) > 180):
        if abs(lat) < _MIN_SCALED or abs(lon) < _MIN_SCALED:
            return None
        for divisor in _SCALES.get(scale_hint, _DEFAULT_SCALES):
            if in_range(lat / divisor, lon / divisor):
                point = (lat / divisor, lon / divisor)
                return Match(canonical(point), f"latitude/longitude pair, integers x{divisor:.0e}")
        return None
    if not in_range(lat, lon):
        return None
    if integral:
        return Match(
            canonical((lat, lon)), "latitude/longitude pair, whole degrees", Confidence.LOW
        )
    return Match(canonical((lat, lon)), "latitude/longitude pair")


def find_lat_lon(mapping: Mapping[Any, Any]) -> tuple[str, str] | None:
    """The first latitude-ish and longitude-ish keys of a dict, if it has both."""
    lat_key = lon_key = None
    for key in mapping:
        if type(key) is not str:
            continue
        bits = keys.key_info(key).bits & (keys.LAT | keys.LON)
        if bits == keys.LAT and lat_key is None:
            lat_key = key
        elif bits == keys.LON and lon_key is None:
            lon_key = key
    if lat_key is None or lon_key is None:
        return None
    return lat_key, lon_key


def mapping_point(mapping: Mapping[Any, Any]) -> tuple[str, Match] | None:
    """(latitude key, Match) for a dict holding a coordinate pair, else None."""
    found = find_lat_lon(mapping)
    if found is None:
        return None
    lat_key, lon_key = found
    hints = keys.key_info(lat_key).bits | keys.key_info(lon_key).bits
    match = coordinate_pair(mapping[lat_key], mapping[lon_key], hints)
    return (lat_key, match) if match else None


def _pair(item: Any, *, lon_first: bool) -> Point | None:
    """A point from ``[lat, lon(, alt)]`` (or ``[lon, lat]`` for GeoJSON), else None."""
    if type(item) not in (list, tuple) or not 2 <= len(item) <= 4:
        return None
    a, b = _number_only(item[0]), _number_only(item[1])
    if a is None or b is None:
        return None
    if lon_first or abs(a) > 90.0:
        a, b = b, a  # GeoJSON order, or a first value that can only be a longitude
    return (a, b) if in_range(a, b) else None


def _number_only(value: Any) -> float | None:
    # In arrays, strings are not coordinates: ["12", "34"] is more likely ids.
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    return None


def geojson_point(mapping: Mapping[Any, Any]) -> Match | None:
    """A Match for a GeoJSON geometry (coordinates in lon, lat order!), else None."""
    kind = mapping.get("type")
    coordinates = mapping.get("coordinates")
    if kind not in _GEOJSON_TYPES or type(coordinates) is not list:
        return None
    if kind == "Point":
        point = _pair(coordinates, lon_first=True)
        return Match(canonical(point), "GeoJSON Point") if point else None
    items: Iterable[Any] = coordinates
    if kind in ("MultiLineString", "Polygon"):
        items = [p for line in coordinates if type(line) is list for p in line]
    points = [p for p in (_pair(i, lon_first=True) for i in items) if p]
    if not points:
        return None
    return Match(canonical(points[0]), f"GeoJSON {kind} of {len(points)} points")


def track(items: Sequence[Any], hints: int) -> Match | None:
    """One Match for a list of points: dicts with lat/lon, or [lat, lon] pairs under a track key."""
    if len(items) < 2:
        return None
    first = items[0]
    points: list[str] = []
    if type(first) is dict:
        if find_lat_lon(first) is None:
            return None  # the common case, lists of records: decided on the first item
        for item in items:
            if type(item) is dict:
                found = mapping_point(item)
                if found:
                    points.append(found[1].canonical)
    elif type(first) in (list, tuple) and hints & (keys.TRACK | keys.LOCATION):
        for item in items:
            point = _pair(item, lon_first=False)
            if point:
                points.append(canonical(point))
    if len(points) < 2:
        return None
    return Match(points[0], f"track of {len(points)} points")


def single_pair(items: Sequence[Any], hints: int, *, lon_first: bool = False) -> Match | None:
    """``[lat, lon]`` under a location key (``"coords": [43.2389, 76.8897]``), else None.

    The order is a guess: lat, lon unless the key is GeoJSON's ``coordinates``
    (``lon_first``) or the first value can only be a longitude; hence MEDIUM.
    """
    if not hints & keys.LOCATION or not 2 <= len(items) <= 3:
        return None
    if type(items[0]) is not float or type(items[1]) is not float:
        return None  # whole numbers in a pair are sizes or indexes more often than degrees
    point = _pair(items, lon_first=lon_first)
    if point is None:
        return None
    order = "lon, lat" if lon_first else "lat, lon"
    return Match(
        canonical(point),
        f"coordinate pair under a location key ({order} order assumed)",
        Confidence.MEDIUM,
    )


def text_pair(text: str, *, keyed: bool) -> Match | None:
    """A Match for a ``"lat,lon"`` string; unkeyed it needs 4+ decimals on both numbers."""
    found = _PAIR_TEXT.fullmatch(text)
    if not found:
        return None
    lat_text, lat_dec, lon_text, lon_dec = found.groups()
    decimals = min(len(lat_dec or ""), len(lon_dec or ""))
    if decimals < (1 if keyed else _MIN_DECIMALS_UNKEYED):
        return None
    lat, lon = float(lat_text), float(lon_text)
    if not in_range(lat, lon):
        return None
    return Match(canonical((lat, lon)), '"lat,lon" text')


def nmea_point(text: str) -> Match | None:
    """A Match for the first NMEA position sentence with a valid checksum, else None."""
    for found in _NMEA.finditer(text):
        try:
            message = pynmea2.parse(found.group(), check=True)
            lat, lon = float(message.latitude), float(message.longitude)
        except Exception:  # pynmea2 raises ParseError, ChecksumError, ValueError ...
            continue
        if in_range(lat, lon):
            sentence = found.group()[1:6]
            return Match(canonical((lat, lon)), f"NMEA {sentence} sentence, checksum valid")
    return None


def polyline_track(text: str) -> Match | None:
    """A Match for an encoded polyline that decodes to 2+ in-range points, else None."""
    if len(text) > _MAX_POLYLINE or not _POLYLINE.fullmatch(text):
        return None
    if _POLYLINE_PUNCT.isdisjoint(text):
        return None
    for precision in (5, 6):
        try:
            points = polyline_codec.decode(text, precision)
        except Exception:  # truncated or garbage input raises IndexError and friends
            return None
        if len(points) >= 2 and all(-90 <= la <= 90 and -180 <= lo <= 180 for la, lo in points):
            first = points[0]
            if abs(first[0]) < 1e-3 and abs(first[1]) < 1e-3:
                return None
            return Match(
                canonical(first),
                f"encoded polyline of {len(points)} points (precision {precision})",
            )
    return None


class LocationDetector(Detector):
    """The string forms; dicts, GeoJSON and tracks go through the functions above."""

    category = Category.LOCATION

    def check(self, leaf: Leaf) -> Match | None:
        text = leaf.value
        if not isinstance(text, str):
            return None
        hints = leaf.hints
        if "$" in text:
            found = nmea_point(text)
            if found:
                return found
        if hints & keys.POLYLINE:
            found = polyline_track(text)
            if found:
                return found
        if len(text) <= 64 and ("," in text or ";" in text):
            keyed = bool(hints & keys.LOCATION) or (hints & (keys.LAT | keys.LON)) == (
                keys.LAT | keys.LON
            )
            return text_pair(text, keyed=keyed)
        return None

    def check_token(self, token: str) -> Match | None:
        if token.startswith("$"):
            return nmea_point(token)
        return text_pair(token, keyed=False)


DETECTOR = LocationDetector()
