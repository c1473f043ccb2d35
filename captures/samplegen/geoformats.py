"""Location encodings vendors use besides lat/lon keys: NMEA, polyline, GeoJSON."""

from __future__ import annotations

import functools
import operator

import polyline


def _dm(value: float, deg_digits: int) -> tuple[str, float]:
    deg = int(abs(value))
    minutes = (abs(value) - deg) * 60
    return f"{deg:0{deg_digits}d}{minutes:07.4f}", value


def nmea_checksum(body: str) -> str:
    return f"{functools.reduce(operator.xor, body.encode('ascii'), 0):02X}"


def gprmc(lat: float, lon: float, hhmmss: str = "081536", ddmmyy: str = "241219") -> str:
    """A GPRMC sentence with a correct checksum for a fixed position."""
    lat_s, _ = _dm(lat, 2)
    lon_s, _ = _dm(lon, 3)
    body = (
        f"GPRMC,{hhmmss}.00,A,{lat_s},{'N' if lat >= 0 else 'S'},"
        f"{lon_s},{'E' if lon >= 0 else 'W'},012.4,084.4,{ddmmyy},,,A"
    )
    return f"${body}*{nmea_checksum(body)}"


def gpgga(lat: float, lon: float, hhmmss: str = "081536") -> str:
    lat_s, _ = _dm(lat, 2)
    lon_s, _ = _dm(lon, 3)
    body = (
        f"GPGGA,{hhmmss}.00,{lat_s},{'N' if lat >= 0 else 'S'},"
        f"{lon_s},{'E' if lon >= 0 else 'W'},1,09,0.9,812.3,M,-3.1,M,,"
    )
    return f"${body}*{nmea_checksum(body)}"


def encoded_polyline(track: list[tuple[float, float]]) -> str:
    return str(polyline.encode(track, 5))


def geojson_point(lat: float, lon: float) -> list[float]:
    # GeoJSON order is [longitude, latitude].
    return [lon, lat]


def geojson_line(track: list[tuple[float, float]]) -> list[list[float]]:
    return [[lon, lat] for lat, lon in track]
