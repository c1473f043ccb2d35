"""Cabin media detector: images, audio and video a car or tracker uploads (cabin camera, voice).

Evidence comes in two shapes. The multipart decoder describes each binary part
as ``{"filename", "content_type", "size", "media", "sha256"}``; JSON bodies
carry media inline as ``data:image/jpeg;base64,…`` or as a long base64 string
under an image/photo/audio key. Inline media is validated by its magic bytes
(JPEG, PNG, WAV, MP4 ...), never by the key alone. Media whose names say face,
voiceprint or driver monitoring are :mod:`biometric` instead: both detectors
share the functions here and exactly one of them fires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

MEDIA_KINDS = frozenset({"image", "audio", "video"})
#: Inline media smaller than this is an icon or a placeholder, not a camera frame.
MIN_INLINE_BYTES = 512
#: Under an image/audio key a shorter payload still counts (thumbnails, voice snippets).
MIN_KEYED_BYTES = 128
_DATA_URI = re.compile(r"data:([a-z]+)/[\w.+-]+(?:;[\w=.-]+)*;base64,", re.ASCII | re.IGNORECASE)
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_B64_PREFIX = re.compile(r"[A-Za-z0-9+/_-]{32}")
# ISO base media (MP4, MOV, 3GP, HEIF) names its flavour at bytes 8-12 after "ftyp".
_FTYP_IMAGE = frozenset({b"heic", b"heix", b"mif1", b"msf1", b"avif"})
_FTYP_AUDIO = frozenset({b"M4A ", b"M4B "})


def sniff(head: bytes) -> str | None:
    """``image``, ``audio`` or ``video`` from a payload's first bytes, else None."""
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "image", b"WAVE": "audio", b"AVI ": "video"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_IMAGE:
            return "image"
        return "audio" if brand in _FTYP_AUDIO else "video"
    if head.startswith((b"OggS", b"ID3", b"fLaC", b"#!AMR", b"#!SILK", b"\x02#!SILK")):
        return "audio"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return "video"
    return None


def _decoded_size(b64: str) -> int:
    return len(b64) * 3 // 4 - (len(b64) - len(b64.rstrip("=")))


def inline(text: str, *, keyed: bool) -> tuple[str, int, str] | None:
    """(media, size in bytes, evidence) for a base64 media string, else None.

    ``keyed``: the key names media (``photo``), so a bare base64 string may
    qualify; otherwise only a ``data:`` URI does.
    """
    uri = _DATA_URI.match(text) if text.startswith(("data:", "DATA:")) else None
    if uri:
        payload = text[uri.end() :]
        minimum = MIN_INLINE_BYTES
    elif keyed:
        payload = text
        minimum = MIN_KEYED_BYTES
    else:
        return None
    size = _decoded_size(payload)
    if size < minimum or not _B64_PREFIX.match(payload):
        return None
    head = payload[:32]
    try:
        if "-" in head or "_" in head:
            data = base64.urlsafe_b64decode(head)
        else:
            data = base64.b64decode(head, validate=True)
    except (binascii.Error, ValueError):
        return None
    media = sniff(data)
    if media is None:
        return None
    how = f"data: URI ({uri.group(1).lower()})" if uri else "base64 under a media key"
    return media, size, f"{media} in a {how}, magic bytes valid"


def part(mapping: Mapping[Any, Any]) -> tuple[str, int, str] | None:
    """(media, size, sha256) of a decoded binary part of kind image, audio or video, else None."""
    media = mapping.get("media")
    size = mapping.get("size")
    sha = mapping.get("sha256")
    if media not in MEDIA_KINDS or type(size) is not int or size <= 0:
        return None
    if type(sha) is not str or not _SHA256.fullmatch(sha):
        return None
    return str(media), size, sha.lower()


def part_is_biometric(mapping: Mapping[Any, Any], field_hints: int) -> bool:
    """Whether a part's field name or file name says face, voiceprint or driver monitoring."""
    if field_hints & keys.BIOMETRIC:
        return True
    filename = mapping.get("filename")
    return type(filename) is str and keys.biometric_hint(filename)


def canonical(media: str, size: int, sha256: str) -> str:
    """``media|size|sha256``: the preview shows media and size, the hash tells files apart."""
    return f"{media}|{size}|{sha256}"


def string_match(leaf: Leaf, confidence: Confidence) -> Match | None:
    """The inline-media Match shared by this detector and the biometric one."""
    text = leaf.value
    if type(text) is not str:
        return None
    found = inline(text, keyed=bool(leaf.hints & (keys.MEDIA | keys.BIOMETRIC)))
    if found is None:
        return None
    media, size, evidence = found
    sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return Match(canonical(media, size, sha), evidence, confidence)


def part_match(mapping: Mapping[Any, Any], biometric: bool) -> Match | None:
    found = part(mapping)
    if found is None:
        return None
    media, size, sha = found
    confidence = Confidence.HIGH if biometric else Confidence.MEDIUM
    what = "with a face/voice/driver-monitoring name" if biometric else "uploaded"
    return Match(canonical(media, size, sha), f"{media} file {what} (multipart)", confidence)


class CabinMediaDetector(Detector):
    """Inline media without biometric names; MEDIUM, since a camera's subject is not known."""

    category = Category.CABIN_MEDIA

    def check(self, leaf: Leaf) -> Match | None:
        if (leaf.hints | leaf.parent_hints) & keys.BIOMETRIC:
            return None
        return string_match(leaf, Confidence.MEDIUM)

    def check_token(self, token: str) -> Match | None:
        return None  # free-text scanning cuts tokens far shorter than any media


DETECTOR = CabinMediaDetector()
