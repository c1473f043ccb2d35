"""Undo HTTP Content-Encoding with a hard output cap, so a compression bomb costs nothing."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli
import zstandard

from .errors import DecodeError

DEFAULT_LIMIT = 8 * 1024 * 1024

# Output is produced in slices of this size so that memory stays near the cap.
_SLICE = 256 * 1024
# zstd and old brotli cannot bound one call's output, so input is fed in pieces small
# enough that one piece cannot inflate far: a 4-byte zstd RLE block yields at most
# 128 KiB, hence 64 input bytes yield at most 2 MiB.
_ZSTD_FEED = 64
_BROTLI_FEED = 64
# RFC 9659 caps the zstd window for HTTP at 8 MiB; a larger one would let a frame
# header alone make the decoder allocate up to 128 MiB.
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def decode_content(
    data: bytes, content_encoding: str | None, *, limit: int = DEFAULT_LIMIT
) -> bytes:
    """Return ``data`` with every coding in ``content_encoding`` undone (last applied first).

    Supports identity, gzip/x-gzip, deflate (zlib-wrapped or raw), br and zstd, and
    chains such as ``"gzip, br"``. Each step's output is capped at ``limit`` bytes.
    Raises DecodeError for unknown codings, broken streams and output over the cap.
    """
    codings = _parse_codings(content_encoding)
    for coding in reversed(codings):
        if not data:
            # An empty body (HEAD, 204, 304) carries the header but no stream.
            return b""
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise DecodeError(f"unknown content encoding {coding!r}")
        data = decoder(data, limit)
    return data


def _parse_codings(content_encoding: str | None) -> list[str]:
    if not content_encoding:
        return []
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    return [c for c in codings if c and c != "identity"]


def _cap_message(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"body inflates beyond {limit // (1024 * 1024)} MiB cap"
    return f"body inflates beyond {limit} byte cap"


def _zlib_stream(data: bytes, wbits: int, limit: int, name: str) -> bytes:
    """Inflate one or more concatenated zlib/gzip/raw-deflate streams, capped at ``limit``."""
    out = bytearray()
    pending = data
    while True:
        inflater = zlib.decompressobj(wbits)
        buf = pending
        while not inflater.eof:
            try:
                chunk = inflater.decompress(buf, min(_SLICE, limit - len(out) + 1))
            except zlib.error as exc:
                raise DecodeError(f"{name}: corrupt stream ({exc})") from None
            out += chunk
            if len(out) > limit:
                raise DecodeError(_cap_message(limit))
            buf = inflater.unconsumed_tail
            if not buf and not chunk:
                # zlib wants more input than there is.
                raise DecodeError(f"{name}: truncated stream at byte {len(data)}")
        rest = inflater.unused_data
        if wbits > 16 and rest.startswith(_GZIP_MAGIC):
            # RFC 1952 allows several gzip members one after another.
            pending = rest
            continue
        if rest.strip(b"\x00"):
            at = len(data) - len(rest)
            raise DecodeError(f"{name}: unexpected data after end of stream at byte {at}")
        return bytes(out)


def _gzip(data: bytes, limit: int) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        raise DecodeError("gzip: invalid header at byte 0")
    return _zlib_stream(data, 16 + zlib.MAX_WBITS, limit, "gzip")


def _deflate(data: bytes, limit: int) -> bytes:
    # "deflate" should be zlib-wrapped (RFC 9110) but many servers send raw deflate;
    # the two-byte zlib header (CM=8, FCHECK) tells them apart.
    is_zlib = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    wbits = zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS
    return _zlib_stream(data, wbits, limit, "deflate")


def _brotli(data: bytes, limit: int) -> bytes:
    inflater = brotli.Decompressor()
    out = bytearray()
    if hasattr(inflater, "can_accept_more_data"):
        # brotli >= 1.2 can bound the output of each call.
        pieces: list[bytes] = [data]
        bounded = True
    else:  # pragma: no cover - only with brotli < 1.2
        pieces = [data[i : i + _BROTLI_FEED] for i in range(0, len(data), _BROTLI_FEED)]
        bounded = False
    try:
        for piece in pieces:
            if inflater.is_finished():
                raise DecodeError("br: unexpected data after end of stream")
            if bounded:
                out += inflater.process(piece, output_buffer_limit=_SLICE)
                while not inflater.can_accept_more_data() and len(out) <= limit:
                    out += inflater.process(b"", output_buffer_limit=_SLICE)
            else:  # pragma: no cover - only with brotli < 1.2
                out += inflater.process(piece)
            if len(out) > limit:
                raise DecodeError(_cap_message(limit))
    except brotli.error as exc:
        raise DecodeError(f"br: corrupt stream ({exc})") from None
    if not inflater.is_finished():
        raise DecodeError(f"br: truncated stream at byte {len(data)}")
    return bytes(out)


def _zstd(data: bytes, limit: int) -> bytes:
    dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    out = bytearray()
    inflater = dctx.decompressobj()
    pos = 0
    try:
        while pos < len(data):
            piece = data[pos : pos + _ZSTD_FEED]
            pos += len(piece)
            out += inflater.decompress(piece)
            if len(out) > limit:
                raise DecodeError(_cap_message(limit))
            if inflater.eof:
                # Concatenated frames are one valid zstd stream.
                rest = inflater.unused_data
                pos -= len(rest)
                inflater = dctx.decompressobj()
                if not data[pos:].strip(b"\x00"):
                    return bytes(out)
    except zstandard.ZstdError as exc:
        raise DecodeError(f"zstd: corrupt stream ({exc})") from None
    if not inflater.eof:
        raise DecodeError(f"zstd: truncated stream at byte {len(data)}")
    return bytes(out)  # pragma: no cover - the loop returns after the last frame


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
