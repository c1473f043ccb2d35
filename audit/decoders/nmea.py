"""Raw NMEA 0183 sentences streamed over TCP (``$GPRMC,…*hh\\r\\n``), as cheap trackers send them.

Sentences are parsed with ``pynmea2`` (checksum included); this module only cuts the
stream into lines and maps RMC, GGA, GLL and GNS fixes to the shared tree shape. Other
sentence types are kept as their named fields. A line that is not NMEA is noted and
skipped: the line break keeps the framing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import pynmea2

from ..model import Document
from .errors import DecodeError
from .framed_stream import FramedStream
from .tracker_stream import frame_text, position

NAME = "nmea"
DEFAULT_PORTS: frozenset[int] = frozenset({10110})

_LINE_MAX = 1024  # a sentence is at most 82 characters; vendors stretch that a little
_START = re.compile(rb"[$!][A-Z]{2}[A-Z0-9]{2,4},")
_FIX_TYPES = frozenset({"RMC", "GGA", "GLL", "GNS"})


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are an NMEA sentence with a checksum (``$GPRMC,…*hh``)."""
    line = first.split(b"\n", 1)[0]
    return bool(_START.match(line)) and re.search(rb"\*[0-9A-Fa-f]{2}\s*$", line) is not None


class Stream(FramedStream[bytes]):
    """One direction of a raw NMEA stream."""

    NAME = NAME

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        limit = min(_LINE_MAX, self.max_frame)
        end = buf.find(b"\n", 0, limit + 1)
        if end < 0:
            if len(buf) > limit:
                raise DecodeError(f"nmea: no line break within {limit} bytes")
            return None
        line = bytes(buf[:end]).strip()
        del buf[: end + 1]
        return line

    def _decode_frame(self, frame: bytes) -> list[Document]:
        if not frame:
            return []
        text = frame_text(frame, NAME)
        try:
            sentence = pynmea2.parse(text, check=True)
        except pynmea2.ChecksumError:
            raise DecodeError(f"nmea: checksum mismatch in {text[:16]!r}") from None
        except (pynmea2.ParseError, ValueError, TypeError, AttributeError, IndexError):
            raise DecodeError(f"nmea: not an NMEA sentence: {text[:16]!r}") from None
        kind = getattr(sentence, "sentence_type", "") or "unknown"
        tree: dict[str, Any] = {"talker": getattr(sentence, "talker", ""), "sentence": kind}
        if kind in _FIX_TYPES:
            tree |= _fix(sentence, kind)
        else:
            tree["fields"] = _fields(sentence)
        return [Document(self.source(kind.lower()), tree)]


def _fix(sentence: Any, kind: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    try:
        lat, lon = sentence.latitude, sentence.longitude
    except (ValueError, TypeError, AttributeError):
        raise DecodeError(f"nmea: {kind} has an unreadable position") from None
    if getattr(sentence, "lat", "") and getattr(sentence, "lon", ""):
        if abs(lat) > 90 or abs(lon) > 180:
            raise DecodeError(f"nmea: {kind} position out of range")
        tree["position"] = position(round(lat, 7), round(lon, 7))
    stamp = getattr(sentence, "timestamp", None)
    day = getattr(sentence, "datestamp", None)
    if isinstance(stamp, time) and isinstance(day, date):
        tree["time"] = datetime.combine(day, stamp.replace(tzinfo=None), tzinfo=UTC).isoformat()
    elif isinstance(stamp, time):
        tree["time_of_day"] = stamp.isoformat()
    for attr, name in (
        ("status", "status"),
        ("spd_over_grnd", "speed_knots"),
        ("true_course", "course"),
        ("altitude", "altitude"),
        ("num_sats", "satellites"),
        ("gps_qual", "fix_quality"),
    ):
        value = getattr(sentence, attr, None)
        if value not in (None, ""):
            tree[name] = value if isinstance(value, int | float) else str(value)
    return tree


def _fields(sentence: Any) -> dict[str, str]:
    names = [field[1] for field in getattr(sentence, "fields", ())]
    data = list(getattr(sentence, "data", ()))
    return {name: str(value) for name, value in zip(names, data, strict=False) if value != ""}
