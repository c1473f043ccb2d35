"""Binary values inside decoded trees: readable text, short hex, or a summary without the bytes.

A photo or voice clip must not be copied into a tree (nor into evidence), but that
it was sent is itself a finding: a summary dict records its kind, size and digest.
Every decoder that meets raw bytes (multipart parts, protobuf, msgpack and CBOR byte
strings) uses the same shape, so that one detector reads them all::

    {"filename": str | None, "content_type": str, "size": int,
     "media": "image" | "audio" | "video" | "binary", "sha256": hex str}
"""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

#: Byte strings up to this size that are not text or media become hex strings.
HEX_MAX = 256
MEDIA_KINDS = ("image", "audio", "video")
OCTET_STREAM = "application/octet-stream"

_TEXT_WS = str.maketrans("\t\r\n", "   ")
_NON_ASCII_MIN_WORDY = 0.6

# (offset, magic, media, MIME type): the container formats cameras and microphones write.
_MAGIC: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"\xff\xd8\xff", "image", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image", "image/png"),
    (0, b"GIF87a", "image", "image/gif"),
    (0, b"GIF89a", "image", "image/gif"),
    (0, b"II*\x00", "image", "image/tiff"),
    (0, b"MM\x00*", "image", "image/tiff"),
    (0, b"\x00\x00\x00\x0cjP  ", "image", "image/jp2"),
    (0, b"ID3", "audio", "audio/mpeg"),
    (0, b"fLaC", "audio", "audio/flac"),
    (0, b"OggS", "audio", "audio/ogg"),
    (0, b"#!AMR", "audio", "audio/amr"),
    (0, b"\x1aE\xdf\xa3", "video", "video/webm"),
)
_RIFF = {
    b"WAVE": ("audio", "audio/wav"),
    b"WEBP": ("image", "image/webp"),
    b"AVI ": ("video", "video/x-msvideo"),
}
# ISO base media (MP4, MOV, HEIC, M4A): the brand after "ftyp" tells which.
_FTYP_AUDIO = (b"M4A", b"M4B")
_FTYP_IMAGE = (b"heic", b"heix", b"mif1", b"msf1", b"avif")


def sniff_media(data: bytes) -> tuple[str, str] | None:
    """``(media, mime)`` when the bytes start like an image, audio or video file."""
    for offset, magic, media, mime in _MAGIC:
        if data.startswith(magic, offset):
            return media, mime
    if data.startswith(b"RIFF") and data[8:12] in _RIFF:
        return _RIFF[data[8:12]]
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand.startswith(_FTYP_AUDIO):
            return "audio", "audio/mp4"
        if brand in _FTYP_IMAGE:
            return "image", "image/heic" if brand.startswith(b"hei") else "image/avif"
        return "video", "video/mp4"
    return None


def media_of(content_type: str | None, filename: str | None, data: bytes) -> tuple[str, str]:
    """``(media, content_type)``: the declared type first, then the bytes, then the file name."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    top = declared.split("/", 1)[0]
    if top in MEDIA_KINDS:
        return top, declared
    sniffed = sniff_media(data)
    if sniffed is not None:
        return sniffed[0], declared if declared and declared != OCTET_STREAM else sniffed[1]
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    if guessed and guessed.split("/", 1)[0] in MEDIA_KINDS:
        return guessed.split("/", 1)[0], declared or guessed
    return "binary", declared or guessed or OCTET_STREAM


def blob_summary(
    data: bytes, *, filename: str | None = None, content_type: str | None = None
) -> dict[str, Any]:
    """The summary dict for binary content (see the module docstring): no byte of it is kept."""
    media, ctype = media_of(content_type, filename, data)
    return {
        "filename": filename,
        "content_type": ctype,
        "size": len(data),
        "media": media,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def printable_text(data: bytes) -> str | None:
    """``data`` as text when it is UTF-8 without control characters (tabs, newlines allowed).

    Text beyond ASCII must also be mostly letters, digits and spaces: two random bytes
    are often one valid, printable but meaningless character.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.translate(_TEXT_WS).isprintable():
        return None
    if not text.isascii():
        wordy = sum(1 for ch in text if ch.isalnum() or ch.isspace())
        if wordy < _NON_ASCII_MIN_WORDY * len(text):
            return None
    return text


def bytes_leaf(data: bytes) -> Any:
    """A byte string as a tree value: text if readable, a summary if media or long, else hex."""
    text = printable_text(data)
    if text is not None:
        return text
    if len(data) > HEX_MAX or sniff_media(data) is not None:
        return blob_summary(data)
    return data.hex()
