"""The drive's own track: coordinates near it are recognised in whatever scale they are sent.

The engineer may register the drive as a GPX or CSV track. Telematics
payloads often carry a position as bare integers (microdegrees, 1e-7
degrees, milliarcseconds) under keys no pattern expects; a pair of numbers
in one document that, scaled alike, lands within about a kilometre of a
point of the drive is the car's location, matched against what the car
really did: evidence of the highest confidence.
"""

from __future__ import annotations

import bisect
import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

from shekara.audit.decoders.tree import flatten
from shekara.audit.detectors.location import canonical
from shekara.audit.knownvalues import KNOWN_PREFIX
from shekara.audit.model import Category, Confidence, Document, Hit

__all__ = ["DriveTrack", "TrackError", "load_track"]

#: Degrees of latitude/longitude within which a value counts as on the track (~1 km).
TOLERANCE = 0.01
#: Scales a position is sent in, and their names.
SCALES = {
    1.0: "degrees",
    1e5: "1e-5 degrees",
    1e6: "microdegrees",
    1e7: "1e-7 degrees",
    3.6e6: "milliarcseconds",
}
#: A track file larger than this is not a drive.
MAX_TRACK_BYTES = 32 * 1024 * 1024


class TrackError(ValueError):
    """A track file that is not GPX or CSV with latitude and longitude."""


def _csv_points(text: str) -> list[tuple[float, float]]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise TrackError("empty CSV track")
    header = [h.strip().lower() for h in rows[0]]
    lat_col = next((i for i, h in enumerate(header) if h in ("lat", "latitude")), None)
    lon_col = next((i for i, h in enumerate(header) if h in ("lon", "lng", "longitude")), None)
    if lat_col is None or lon_col is None:
        raise TrackError("a CSV track needs lat and lon columns")
    points = []
    for row in rows[1:]:
        try:
            points.append((float(row[lat_col]), float(row[lon_col])))
        except (IndexError, ValueError):
            continue
    return points


def _gpx_points(text: str) -> list[tuple[float, float]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise TrackError(f"not a GPX file: {e}") from e
    points = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] in ("trkpt", "rtept", "wpt"):
            try:
                points.append((float(el.attrib["lat"]), float(el.attrib["lon"])))
            except (KeyError, ValueError):
                continue
    return points


def load_track(path: Path) -> list[tuple[float, float]]:
    """The points of a GPX or CSV track file; TrackError if none."""
    if path.stat().st_size > MAX_TRACK_BYTES:
        raise TrackError(f"{path}: larger than {MAX_TRACK_BYTES} bytes")
    text = path.read_text(errors="replace")
    points = _gpx_points(text) if text.lstrip().startswith("<") else _csv_points(text)
    points = [(a, o) for a, o in points if -90 <= a <= 90 and -180 <= o <= 180]
    if not points:
        raise TrackError(f"{path}: no track points")
    return points


class DriveTrack:
    """Track points indexed by latitude, so each number costs a binary search."""

    def __init__(self, points: Iterable[Sequence[float]]) -> None:
        self.points = sorted((float(p[0]), float(p[1])) for p in points)
        self._lats = [p[0] for p in self.points]

    def __bool__(self) -> bool:
        return bool(self.points)

    def near(self, lat: float, lon: float) -> bool:
        lo = bisect.bisect_left(self._lats, lat - TOLERANCE)
        hi = bisect.bisect_right(self._lats, lat + TOLERANCE)
        return any(abs(self.points[i][1] - lon) <= TOLERANCE for i in range(lo, hi))

    def hits(self, doc: Document) -> list[Hit]:
        """A location hit for the first pair of numbers in ``doc`` that lies on the track."""
        numbers = []
        for f in flatten(doc):
            v = f.value
            if isinstance(v, bool) or v is None:
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                continue
            if x != 0:
                numbers.append((f, x))
            if len(numbers) > 500:
                break
        for scale, how in SCALES.items():
            scaled = [(f, x / scale) for f, x in numbers if abs(x / scale) <= 180]
            lats = [(f, y) for f, y in scaled if abs(y) <= 90]
            for lat_field, lat in lats:
                lo = bisect.bisect_left(self._lats, lat - TOLERANCE)
                hi = bisect.bisect_right(self._lats, lat + TOLERANCE)
                if lo == hi:
                    continue
                for lon_field, lon in scaled:
                    if lon_field is lat_field:
                        continue
                    if self.near(lat, lon):
                        return [
                            Hit(
                                Category.LOCATION,
                                lat_field,
                                canonical((lat, lon)),
                                f"{KNOWN_PREFIX} (drive track, {how}, with "
                                f"{lon_field.locator}): matched against the vehicle's "
                                "registered data",
                                Confidence.HIGH,
                            )
                        ]
        return []
