"""Stream machinery the tracker decoders share, so each one only says how to frame and read.

A tracker decoder module (``h02``, ``tk103``, ``queclink``, ``watch3g``, ``wialon``,
``nmea``, ``egts``) subclasses :class:`FramedStream` with two methods: ``_next_frame``
cuts one frame off the reassembly buffer (or returns None until more bytes come) and
``_decode_frame`` turns a frame into Documents. This class holds what they share: the
buffer, the ``max_frame`` cap, poisoning after a framing error, and notes for frames
that were cut cleanly but could not be read. The small value parsers below are shared
because these protocols write coordinates, dates and ids the same NMEA-like way.
"""

from __future__ import annotations

import abc
import logging
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from stdnum import luhn

from ..model import Document
from .errors import DecodeError
from .mqtt import Undecoded

logger = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024

# "ddmm.mmmm" / "dddmm.mmmm": degrees then two digits of whole minutes, then decimals.
# ASCII only: regex \s and \d accept characters (\x1c, other scripts' digits) that
# float() refuses, which a mutated frame showed.
_DDMM = re.compile(r"[ \t]*([0-9]{0,3})([0-9]{2}(?:\.[0-9]{1,15})?)[ \t]*")
_DECIMAL = re.compile(r"[ \t]*[-+]?[0-9]{1,3}(?:\.[0-9]{1,12})?[ \t]*")
_LINE_BREAKS = str.maketrans("", "", "\r\n\t")
_HEMISPHERES = {"N": 1.0, "S": -1.0, "E": 1.0, "W": -1.0, "": 1.0}
# Bugs in a decoder must not take the proxy down, but they must not hide either: the
# reason starts with this so tests (and logs) can tell them from bad input.
INTERNAL_ERROR = "internal decoder error"


class TrackerStreamError(DecodeError):
    """The stream lost its framing; ``documents`` holds what this feed decoded before that."""

    def __init__(self, message: str, documents: list[Document]) -> None:
        super().__init__(message)
        self.documents = documents


class FramedStream(abc.ABC):
    """One direction of one tracker connection: bytes in, Documents out.

    ``from_client`` says which way the bytes flow: device to server (True) or server to
    device (commands, sources ``<name>.down.<message>``). After a framing error the
    stream is poisoned: the next frame boundary is unknown, so every later ``feed``
    raises too.
    """

    NAME: ClassVar[str] = "tracker"

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        self.from_client = from_client
        self.max_frame = max_frame
        self._buf = bytearray()
        self._error: DecodeError | None = None
        self._notes: list[Undecoded] = []

    def feed(self, data: bytes) -> list[Document]:
        """Add ``data`` and return one Document per message it completed.

        Raises TrackerStreamError (a DecodeError) when the framing is lost, and on
        every call after that.
        """
        if self._error is not None:
            raise TrackerStreamError(f"{self.NAME}: stream already failed: {self._error}", [])
        self._buf += data
        documents: list[Document] = []
        try:
            while (frame := self._next_frame()) is not None:
                documents.extend(self._decode_safely(frame))
            if len(self._buf) > self.max_frame:
                raise DecodeError(
                    f"{self.NAME}: {len(self._buf)} bytes without a frame boundary "
                    f"exceed the {self.max_frame} byte cap"
                )
        except DecodeError as exc:
            self._error = exc
            self._buf.clear()
            raise TrackerStreamError(str(exc), documents) from None
        return documents

    def take_notes(self) -> list[Undecoded]:
        """Return and forget the frames that were framed fine but could not be decoded."""
        notes, self._notes = self._notes, []
        return notes

    # --- for subclasses ---------------------------------------------------------------
    @abc.abstractmethod
    def _next_frame(self) -> bytes | None:
        """Cut the next complete frame off ``self._buf``; None until more bytes come.

        Raises DecodeError when the bytes cannot be the start of a frame.
        """

    @abc.abstractmethod
    def _decode_frame(self, frame: bytes) -> list[Document]:
        """Documents for one frame; DecodeError for content that cannot be read (a note)."""

    def source(self, message: str) -> str:
        """``<name>.<message>`` from the device, ``<name>.down.<message>`` towards it."""
        if self.from_client:
            return f"{self.NAME}.{message}"
        return f"{self.NAME}.down.{message}"

    def note(self, message: str, reason: str) -> None:
        self._notes.append(Undecoded(self.source(message), reason))

    def check_frame_size(self, size: int) -> None:
        if size > self.max_frame:
            raise DecodeError(f"{self.NAME}: frame of {size} bytes exceeds {self.max_frame} cap")

    def _decode_safely(self, frame: bytes) -> list[Document]:
        try:
            return self._decode_frame(frame)
        except DecodeError as exc:
            self.note("frame", str(exc))
        except (ArithmeticError, IndexError, KeyError, TypeError, ValueError) as exc:
            # A decoder bug on hostile input: record it, keep the proxy and the stream up.
            logger.warning("%s decoder failed on a %d byte frame: %r", self.NAME, len(frame), exc)
            self.note("frame", f"{INTERNAL_ERROR}: {type(exc).__name__}")
        return []


# --- value parsers shared by the text protocols ------------------------------------------
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
