"""Biometric: the same media as cabin media, under face/voiceprint/driver-monitoring names."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from shekara.audit.detectors import keys
from shekara.audit.model import Category, Confidence

from .util import hits

B = "request.body:$"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(1024)
JPEG_B64 = base64.b64encode(JPEG).decode()
JPEG_URI = "data:image/jpeg;base64," + JPEG_B64


def part(media: str = "image", filename: str = "cam.jpg") -> dict[str, Any]:
    return {
        "filename": filename,
        "content_type": "image/jpeg",
        "size": 1000,
        "media": media,
        "sha256": "cd" * 32,
    }


@pytest.mark.parametrize(
    "tree, locator",
    [
        ({"face_image": part()}, f"{B}.face_image"),
        ({"faceImage": part()}, f"{B}.faceImage"),
        ({"upload": part(filename="selfie_0001.jpg")}, f"{B}.upload"),
        ({"file": part(filename="dms_fatigue_20241128.jpg")}, f"{B}.file"),
        ({"voiceprint": part("audio", "v.wav")}, f"{B}.voiceprint"),
        ({"driver_monitor": part("video", "clip.mp4")}, f"{B}.driver_monitor"),
        ({"face": JPEG_B64}, f"{B}.face"),
        ({"dms": {"frame": JPEG_B64}}, f"{B}.dms.frame"),
        ({"drowsiness_event": {"snapshot": JPEG_URI}}, f"{B}.drowsiness_event.snapshot"),
        ({"selfie": JPEG_URI}, f"{B}.selfie"),
        ({"voice_print": base64.b64encode(WAV).decode()}, f"{B}.voice_print"),
        ({"iris_scan": JPEG_B64}, f"{B}.iris_scan"),
    ],
)
def test_biometric(tree: Any, locator: str) -> None:
    found = hits(tree, Category.BIOMETRIC)
    assert [h.field.locator for h in found] == [locator]
    assert found[0].confidence is Confidence.HIGH
    assert hits(tree, Category.CABIN_MEDIA) == []  # one category per media, never both


@pytest.mark.parametrize(
    "tree",
    [
        {"face_image": part("binary")},
        {"face": "smile"},  # a word, not an image
        {"face": "https://cdn.example.com/faces/1.jpg"},
        {"interface": JPEG_B64},  # "face" inside another word
        {"surface_photo": part(filename="road.jpg")},  # a photo, but of a road: cabin media
        {"fatigue_level": 3},
        {"dms": {"drowsy": True, "score": 0.7}},
    ],
)
def test_not_biometric(tree: Any) -> None:
    assert hits(tree, Category.BIOMETRIC) == []


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/api/v2/dms/upload", True),
        ("/driver-monitoring/frames", True),
        ("/faceid/verify", True),
        ("/upload/voiceprint", True),
        ("/api/interface/upload", False),
        ("/api/v1/telemetry", False),
        ("x" * 5000, False),
    ],
)
def test_path_hint(path: str, expected: bool) -> None:
    assert keys.biometric_hint(path) is expected
