"""Multipart bodies (form uploads, ``multipart/mixed``): each part decoded under its field name.

The tree is a dict keyed by each part's ``Content-Disposition`` name (else its file
name, else ``part<i>``; a repeated name holds a list). Text parts are decoded by
their own content type (JSON, form, protobuf, ... through the ``decode`` callback
the body decoder passes in); binary parts (images, audio, video, anything not text)
never enter the tree as bytes, only as the summary of ``blobs.blob_summary``::

    {"filename": ..., "content_type": ..., "size": n,
     "media": "image" | "audio" | "video" | "binary", "sha256": ...}

That dict shape is what the biometric and cabin-media detectors read: keep it.
Parsing is python-multipart's (the parser Starlette uses); the stdlib ``email``
parser only reads the part headers' parameters, where it handles RFC 2231 names.
"""

from __future__ import annotations

import binascii
import email.message
import email.utils
import logging
import quopri
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from .blobs import MEDIA_KINDS, OCTET_STREAM, blob_summary, printable_text, sniff_media
from .errors import DecodeError

MAX_PARTS = 1000
MAX_PART_HEADERS = 32

# The parser logs a warning for each malformed body and then raises; the raise is what
# counts (it becomes a Note), so a device sending junk must not also flood the log.
_PARSER_LOG = logging.getLogger(f"{__name__}.parser")
_PARSER_LOG.setLevel(logging.CRITICAL + 1)

#: Decodes one part's bytes by its content type (None when the part declares none).
PartDecoder = Callable[[bytes, str | None], Any]


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)


def decode_multipart(data: bytes, boundary: str | None, decode: PartDecoder) -> dict[str, Any]:
    """Decode a multipart body into a tree (see the module docstring). Raises DecodeError."""
    if not boundary:
        raise DecodeError("multipart: no boundary in the content type, not decoded")
    tree: dict[str, Any] = {}
    repeated: set[str] = set()
    for index, part in enumerate(_split(data, boundary)):
        name, filename = _disposition(part.headers.get("content-disposition"))
        value = _part_value(part, filename, decode)
        _add(tree, repeated, name or filename or f"part{index}", value)
    return tree


def _split(data: bytes, boundary: str) -> list[_Part]:
    delimiter = b"--" + boundary.encode("latin-1", errors="replace")
    start = data.find(delimiter)
    if start < 0:
        raise DecodeError("multipart: boundary not found, not decoded")
    # A preamble before the first delimiter is allowed (RFC 2046) but not by the parser.
    parts: list[_Part] = []
    current = _Part()
    name = bytearray()
    value = bytearray()
    ended = False

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()
        if len(parts) >= MAX_PARTS:
            raise DecodeError(f"multipart: more than {MAX_PARTS} parts, not decoded")

    def on_header_field(buf: bytes, begin: int, end: int) -> None:
        name.extend(buf[begin:end])

    def on_header_value(buf: bytes, begin: int, end: int) -> None:
        value.extend(buf[begin:end])

    def on_header_end() -> None:
        key = name.decode("latin-1").strip().lower()
        current.headers.setdefault(key, value.decode("utf-8", errors="replace").strip())
        name.clear()
        value.clear()

    def on_part_data(buf: bytes, begin: int, end: int) -> None:
        current.data.extend(buf[begin:end])

    def on_part_end() -> None:
        parts.append(current)

    def on_end() -> None:
        nonlocal ended
        ended = True

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks, max_header_count=MAX_PART_HEADERS)  # type: ignore[arg-type]
        parser.logger = _PARSER_LOG
        parser.write(data[start:])
        parser.finalize()
    except (MultipartParseError, ValueError) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(f"multipart: {exc}") from None
    if not ended and (current.headers or current.data) and all(p is not current for p in parts):
        parts.append(current)  # cut short: what was sent of the last part still counts
    if not parts:
        raise DecodeError("multipart: no complete part, not decoded")
    return parts


def _disposition(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    msg = email.message.Message()
    msg["content-disposition"] = header
    raw_name = msg.get_param("name", header="content-disposition")
    name = email.utils.collapse_rfc2231_value(raw_name) if raw_name else None
    filename = msg.get_filename()
    if filename:
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1]  # old browsers send paths
    return name or None, filename or None


def _part_value(part: _Part, filename: str | None, decode: PartDecoder) -> Any:
    data = _transfer_decoded(bytes(part.data), part.headers.get("content-transfer-encoding"))
    content_type = part.headers.get("content-type") or None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not data:
        return ""
    if media_type.split("/", 1)[0] in MEDIA_KINDS or sniff_media(data) is not None:
        return blob_summary(data, filename=filename, content_type=content_type)
    text = printable_text(data)
    if media_type and media_type != OCTET_STREAM:
        try:
            return decode(data, content_type)
        except DecodeError:
            pass  # a part that lies about its type is read as what it is
    elif text is not None:
        try:
            return decode(data, None)
        except DecodeError:
            pass
    if text is not None:
        return text
    return blob_summary(data, filename=filename, content_type=content_type)


def _transfer_decoded(data: bytes, encoding: str | None) -> bytes:
    coding = (encoding or "").strip().lower()
    try:
        if coding == "base64":
            return binascii.a2b_base64(data)
        if coding == "quoted-printable":
            return quopri.decodestring(data)
    except (binascii.Error, ValueError):
        pass  # keep the bytes as sent
    return data


def _add(tree: dict[str, Any], repeated: set[str], key: str, value: Any) -> None:
    """A repeated name becomes a list (a part whose own value is a list is not mistaken)."""
    if key not in tree:
        tree[key] = value
    elif key in repeated:
        tree[key].append(value)
    else:
        tree[key] = [tree[key], value]
        repeated.add(key)
