"""Cabin media: multipart parts of kind image/audio/video, and inline base64 with valid magic."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from shekara.audit.detectors.cabin_media import sniff
from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(1024)
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(1024)
TEXT = b"just some text that is long enough to look like data " * 20


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{b64(data)}"


def part(media: str, size: int = 48213, filename: str = "cam.jpg") -> dict[str, Any]:
    return {
        "filename": filename,
        "content_type": "image/jpeg",
        "size": size,
        "media": media,
        "sha256": "ab" * 32,
    }


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    "tree, expected",
    [
        # multipart parts as the multipart decoder describes them
        ({"snapshot": part("image")}, [(f"{B}.snapshot", "image|48213|" + "ab" * 32)]),
        ({"file": part("audio", 9000, "rec.amr")}, [(f"{B}.file", "audio|9000|" + "ab" * 32)]),
        ({"clip": part("video", 10, "c.mp4")}, [(f"{B}.clip", "video|10|" + "ab" * 32)]),
        # inline: data: URIs anywhere, bare base64 under a media key
        (
            {"x": uri("image/jpeg", JPEG)},
            [(f"{B}.x", f"image|{len(JPEG)}|{sha(uri('image/jpeg', JPEG))}")],
        ),
        ({"photo": b64(JPEG)}, [(f"{B}.photo", f"image|{len(JPEG)}|{sha(b64(JPEG))}")]),
        (
            {"voice_recording": b64(WAV)},
            [(f"{B}.voice_recording", f"audio|{len(WAV)}|{sha(b64(WAV))}")],
        ),
        ({"video": b64(MP4)}, [(f"{B}.video", f"video|{len(MP4)}|{sha(b64(MP4))}")]),
        (
            {"cabin": {"images": [b64(JPEG)]}},
            [(f"{B}.cabin.images[0]", f"image|{len(JPEG)}|{sha(b64(JPEG))}")],
        ),
    ],
)
def test_cabin_media(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.CABIN_MEDIA) == expected
    assert hits(tree, Category.BIOMETRIC) == []


@pytest.mark.parametrize(
    "tree",
    [
        {"file": part("binary")},  # not media
        {"file": {**part("image"), "sha256": "not-a-hash"}},
        {"file": {**part("image"), "size": 0}},
        {"file": {**part("image"), "size": "48213"}},
        {"media": "image"},  # a word, not a part
        {"photo": b64(TEXT)},  # base64, but not image bytes
        {"photo": "https://cdn.example.com/p/123.jpg"},  # a link, not the image
        {"photo": b64(JPEG[:64])},  # too small
        {"image": "front"},
        {"blob": b64(JPEG)},  # no media key and no data: prefix
        {"x": uri("image/png", b"\x89PNG\r\n\x1a\n" + bytes(40))},  # an icon-sized inline image
        {"x": uri("image/jpeg", TEXT)},  # declared image, bytes say otherwise
        {"x": "data:text/plain;base64," + b64(TEXT)},
        {"photo": "!" * 400},
    ],
)
def test_not_cabin_media(tree: Any) -> None:
    assert hits(tree, Category.CABIN_MEDIA) == []
    assert hits(tree, Category.BIOMETRIC) == []


@pytest.mark.parametrize(
    "data, media",
    [
        (JPEG, "image"),
        (b"\x89PNG\r\n\x1a\n....", "image"),
        (b"GIF89a......", "image"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image"),
        (b"\x00\x00\x00\x1cftypheic", "image"),
        (WAV, "audio"),
        (b"OggS\x00\x02", "audio"),
        (b"ID3\x04\x00", "audio"),
        (b"#!AMR\n", "audio"),
        (b"\x00\x00\x00\x20ftypM4A ", "audio"),
        (MP4, "video"),
        (b"\x1a\x45\xdf\xa3\x01", "video"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video"),
        (TEXT, None),
        (b"", None),
        (b"RIFF", None),
    ],
)
def test_sniff(data: bytes, media: str | None) -> None:
    assert sniff(data) == media


def test_confidence_is_medium() -> None:
    (hit,) = hits({"snapshot": part("image")}, Category.CABIN_MEDIA)
    assert hit.confidence is Confidence.MEDIUM and hit.field.value is None
