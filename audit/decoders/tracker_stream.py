"""Value parsers the text tracker decoders share (``h02``, ``tk103``, ``queclink``,
``watch3g``, ``wialon``, ``nmea``): these protocols write coordinates, dates and ids the
same NMEA-like way. Their streams are :class:`~.framed_stream.FramedStream`s.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from stdnum import luhn

from .errors import DecodeError

# "ddmm.mmmm" / "dddmm.mmmm": degrees then two digits of whole minutes, then decimals.
# ASCII only: regex \s and \d accept characters (\x1c, other scripts' digits) that
# float() refuses, which a mutated frame showed.
_DDMM = re.compile(r"[ \t]*([0-9]{0,3})([0-9]{2}(?:\.[0-9]{1,15})?)[ \t]*")
_DECIMAL = re.compile(r"[ \t]*[-+]?[0-9]{1,3}(?:\.[0-9]{1,12})?[ \t]*")
_LINE_BREAKS = str.maketrans("", "", "\r\n\t")
_HEMISPHERES = {"N": 1.0, "S": -1.0, "E": 1.0, "W": -1.0, "": 1.0}
#: What text devices send between frames: line ends, spaces, NUL padding.
SEPARATORS = b"\r\n \x00"


def drop_separators(buf: bytearray) -> None:
    """Drop the ``SEPARATORS`` that lead the reassembly buffer, before the next frame."""
    del buf[: len(buf) - len(buf.lstrip(SEPARATORS))]


def frame_text(frame: bytes, protocol: str) -> str:
    """The frame as UTF-8 text (ASCII in practice); other control bytes are a DecodeError."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"{protocol}: text frame is not UTF-8") from None
    if not text.translate(_LINE_BREAKS).isprintable():
        raise DecodeError(f"{protocol}: control character in a text frame")
    return text


def ddmm(value: str, hemisphere: str, protocol: str, *, limit: float) -> float:
    """Degrees from NMEA-style ``[d]ddmm.mmmm`` and a hemisphere letter (S and W negative)."""
    sign = _HEMISPHERES.get(hemisphere.strip().upper())
    match = _DDMM.fullmatch(value)
    if sign is None or match is None:
        raise DecodeError(f"{protocol}: bad coordinate {value[:16]!r} {hemisphere[:2]!r}")
    # Minutes of 60 or more are a firmware bug, but the position is still meant: kept.
    degrees = int(match.group(1) or 0) + float(match.group(2)) / 60.0
    if degrees > limit:
        raise DecodeError(f"{protocol}: coordinate {value[:16]!r} out of range")
    return round(sign * degrees, 7)


def decimal_degrees(value: str, hemisphere: str, protocol: str, *, limit: float) -> float:
    """Decimal degrees (``22.571707``) with an optional hemisphere letter applied on top."""
    sign = _HEMISPHERES.get(hemisphere.strip().upper())
    if sign is None or not _DECIMAL.fullmatch(value):
        raise DecodeError(f"{protocol}: bad coordinate {value[:16]!r} {hemisphere[:2]!r}")
    degrees = float(value)
    if abs(degrees) > limit:
        raise DecodeError(f"{protocol}: coordinate {value[:16]!r} out of range")
    # A device that writes "-33.48,N" means south: the explicit minus wins over the letter.
    return round(-abs(degrees) if sign < 0 else degrees, 7)


def position(lat: float, lon: float) -> dict[str, float]:
    return {"lat": lat, "lon": lon}


def utc_iso(
    year: int, month: int, day: int, hour: int, minute: int, second: int, protocol: str
) -> str:
    """An ISO 8601 UTC timestamp; impossible dates are a DecodeError."""
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()
    except (ValueError, OverflowError):
        raise DecodeError(
            f"{protocol}: impossible date/time {year}-{month}-{day} {hour}:{minute}:{second}"
        ) from None


def digits_time(date: str, time: str, protocol: str, *, day_first: bool = True) -> str:
    """``ddmmyy`` (or ``yymmdd``) and ``hhmmss[.sss]`` as an ISO UTC timestamp."""
    time = time.split(".", 1)[0]
    if len(date) != 6 or len(time) != 6 or not (date + time).isdigit():
        raise DecodeError(f"{protocol}: bad date/time {date[:8]!r} {time[:8]!r}")
    a, b, c = int(date[0:2]), int(date[2:4]), int(date[4:6])
    day, month, year = (a, b, c) if day_first else (c, b, a)
    return utc_iso(
        2000 + year, month, day, int(time[0:2]), int(time[2:4]), int(time[4:6]), protocol
    )


def put_time(
    tree: dict[str, Any], date: str, time: str, protocol: str, *, day_first: bool = True
) -> None:
    """Set ``tree["time"]``, or ``time_raw`` when the clock is impossible.

    A device with a broken clock still sent its position: the report is kept.
    """
    try:
        tree["time"] = digits_time(date, time, protocol, day_first=day_first)
    except DecodeError:
        tree["time_raw"] = f"{date[:8]} {time[:12]}"


def device_ids(device_id: str) -> dict[str, Any]:
    """``device_id``, plus ``imei`` when the id is a Luhn-valid 15-digit IMEI."""
    ids: dict[str, Any] = {"device_id": device_id}
    if len(device_id) == 15 and device_id.isdigit() and luhn.is_valid(device_id):
        ids["imei"] = device_id
    return ids


def number(value: str) -> int | float | str:
    """A numeric field as int or float; anything else stays the string it was."""
    text = value.strip()
    if not text or len(text) > 24:
        return value
    try:
        return int(text)
    except ValueError:
        pass
    try:
        result = float(text)
    except ValueError:
        return value
    return result if result == result and abs(result) != float("inf") else value
