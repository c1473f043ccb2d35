"""Coordinates near the registered drive track, in any scale, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from shekara.audit.drivetrack import DriveTrack, TrackError, load_track
from shekara.audit.model import Category, Confidence, Document

# A drive along Al-Farabi avenue, Almaty.
POINTS = [(43.2389, 76.8897), (43.2301, 76.9102), (43.2215, 76.9350)]
TRACK = DriveTrack(POINTS)


@pytest.mark.parametrize(
    "tree, how",
    [
        ({"p1": 43.2390, "p2": 76.8899}, "degrees"),
        ({"a": 43230150, "b": 76910220}, "microdegrees"),
        ({"x": {"y": 432215000}, "z": [769350000]}, "1e-7 degrees"),
        ({"m": 155661840, "n": 276803280}, "milliarcseconds"),
        ({"u": 4323010, "v": 7691020}, "1e-5 degrees"),
    ],
)
def test_positions_on_the_track_in_any_scale(tree: dict[str, object], how: str) -> None:
    [hit] = TRACK.hits(Document("request.body", tree))
    assert hit.category is Category.LOCATION and hit.confidence is Confidence.HIGH
    assert hit.evidence.startswith("known-value (drive track") and how in hit.evidence
    lat, lon = map(float, hit.canonical.split(","))
    assert TRACK.near(lat, lon)


@pytest.mark.parametrize(
    "tree",
    [
        {"p1": 51.1694, "p2": 71.4491},  # Astana: a real place, but not this drive
        {"a": 43230150},  # a latitude alone
        {"a": 43230150, "b": 43230150},  # the same number twice is not a pair
        {"seq": 7, "odometer": 123456, "soc": 76.5, "ts": 1795000000},
        {"s": "43.2390,76.8899 written as text is the pattern detector's job"},
    ],
)
def test_other_numbers_are_not_the_track(tree: dict[str, object]) -> None:
    assert TRACK.hits(Document("request.body", tree)) == []


def test_csv_and_gpx_tracks(tmp_path: Path) -> None:
    (tmp_path / "drive.csv").write_text("time,Latitude,Longitude\n1,43.2389,76.8897\nx,bad,\n")
    assert load_track(tmp_path / "drive.csv") == [(43.2389, 76.8897)]
    (tmp_path / "drive.gpx").write_text(
        '<?xml version="1.0"?><gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="43.2389" lon="76.8897"/><trkpt lat="43.2301" lon="76.9102"/>'
        "</trkseg></trk></gpx>"
    )
    assert load_track(tmp_path / "drive.gpx") == POINTS[:2]
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(TrackError, match="lat and lon"):
        load_track(tmp_path / "bad.csv")
    (tmp_path / "bad.gpx").write_text("<gpx><trk>")
    with pytest.raises(TrackError, match="GPX"):
        load_track(tmp_path / "bad.gpx")
