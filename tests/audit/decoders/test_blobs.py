"""Binary values in trees: text, hex, or a summary that never holds the bytes."""

from __future__ import annotations

import hashlib

import pytest

from shekara.audit.decoders.blobs import (
    HEX_MAX,
    blob_summary,
    bytes_leaf,
    media_of,
    printable_text,
    sniff_media,
)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\xff\xd8\xff\xdb" + bytes(8), ("image", "image/jpeg")),
        (b"\x89PNG\r\n\x1a\n", ("image", "image/png")),
        (b"GIF89a...", ("image", "image/gif")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "image/webp")),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ("audio", "audio/wav")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", ("video", "video/x-msvideo")),
        (b"\x00\x00\x00\x20ftypisom", ("video", "video/mp4")),
        (b"\x00\x00\x00\x20ftypM4A ", ("audio", "audio/mp4")),
        (b"\x00\x00\x00\x18ftypheic", ("image", "image/heic")),
        (b"ID3\x04\x00", ("audio", "audio/mpeg")),
        (b"OggS\x00\x02", ("audio", "audio/ogg")),
        (b"#!AMR\n", ("audio", "audio/amr")),
        (b"\x1aE\xdf\xa3\x01", ("video", "video/webm")),
        (b"\x00\x01\x02\x03", None),
        (b"RIFF\x00\x00\x00\x00ABCD", None),
        (b"", None),
    ],
)
def test_sniff_media(data: bytes, expected: tuple[str, str] | None) -> None:
    assert sniff_media(data) == expected


@pytest.mark.parametrize(
    "content_type, filename, data, expected",
    [
        ("image/jpeg; q=1", None, b"", ("image", "image/jpeg")),
        ("Audio/AMR", None, b"", ("audio", "audio/amr")),
        (None, None, b"\x89PNG\r\n\x1a\n", ("image", "image/png")),
        ("application/octet-stream", None, b"\x89PNG\r\n\x1a\n", ("image", "image/png")),
        ("application/x-custom", None, b"\x89PNG\r\n\x1a\n", ("image", "application/x-custom")),
        (None, "clip.mp4", b"\x00", ("video", "video/mp4")),
        (None, "dump.bin", b"\x00", ("binary", "application/octet-stream")),
        ("application/zip", "a.zip", b"PK", ("binary", "application/zip")),
    ],
)
def test_media_of(
    content_type: str | None, filename: str | None, data: bytes, expected: tuple[str, str]
) -> None:
    assert media_of(content_type, filename, data) == expected


def test_blob_summary_shape() -> None:
    data = b"\xff\xd8\xff" + bytes(1000)
    assert blob_summary(data, filename="face.jpg") == {
        "filename": "face.jpg",
        "content_type": "image/jpeg",
        "size": 1003,
        "media": "image",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"hello\tworld\r\n", "hello\tworld\r\n"),
        ("Алия Нурланова".encode(), "Алия Нурланова"),
        (b"", ""),
        (b"\x00abc", None),
        (b"\xde\xad", None),  # one valid but meaningless character
        (b"\xff", None),
    ],
)
def test_printable_text(data: bytes, expected: str | None) -> None:
    assert printable_text(data) == expected


def test_bytes_leaf() -> None:
    assert bytes_leaf(b"VIN LGHC4V1D9HE204406") == "VIN LGHC4V1D9HE204406"
    assert bytes_leaf(b"\x00\x01\xfe") == "0001fe"
    short = bytes(HEX_MAX)
    assert bytes_leaf(short) == short.hex()
    assert bytes_leaf(bytes(HEX_MAX + 1))["size"] == HEX_MAX + 1
    assert bytes_leaf(b"\xff\xd8\xff\x00")["media"] == "image"  # media, however short
