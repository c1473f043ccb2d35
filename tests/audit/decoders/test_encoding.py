"""Content-Encoding round trips, broken streams and compression bombs."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib

import brotli
import pytest
import zstandard

from shekara.audit.decoders.encoding import DEFAULT_LIMIT, decode_content
from shekara.audit.decoders.errors import DecodeError

PLAIN = b'{"vin": "WBA00000000DEMO02", "lat": 43.238949, "lon": 76.889709}\n' * 200
MIB = 1 << 20


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize(
    "encoded, encoding",
    [
        (PLAIN, None),
        (PLAIN, ""),
        (PLAIN, "identity"),
        (gzip.compress(PLAIN), "gzip"),
        (gzip.compress(PLAIN), "x-gzip"),
        (gzip.compress(PLAIN), " GZIP "),
        (zlib.compress(PLAIN), "deflate"),
        (_raw_deflate(PLAIN), "deflate"),
        (brotli.compress(PLAIN), "br"),
        (_zstd(PLAIN), "zstd"),
        (gzip.compress(PLAIN[:100]) + gzip.compress(PLAIN[100:]), "gzip"),
        (gzip.compress(PLAIN) + b"\x00\x00\x00", "gzip"),
        (_zstd(PLAIN[:100]) + _zstd(PLAIN[100:]), "zstd"),
        (brotli.compress(gzip.compress(PLAIN)), "gzip, br"),
        (_zstd(zlib.compress(PLAIN)), "deflate,zstd"),
        (gzip.compress(brotli.compress(_zstd(PLAIN))), "zstd, br, gzip"),
        (gzip.compress(PLAIN), "identity, gzip"),
    ],
)
def test_round_trip(encoded: bytes, encoding: str | None) -> None:
    assert decode_content(encoded, encoding) == PLAIN


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "gzip, br"])
def test_empty_body_with_encoding_is_empty(encoding: str) -> None:
    assert decode_content(b"", encoding) == b""


@pytest.mark.parametrize(
    "encoded, encoding, message",
    [
        (b"not gzip at all", "gzip", "gzip: invalid header at byte 0"),
        (gzip.compress(PLAIN)[:40], "gzip", "gzip: truncated stream"),
        (gzip.compress(PLAIN)[:10] + b"\xff" * 30, "gzip", "gzip: corrupt stream"),
        (gzip.compress(PLAIN) + b"trailing", "gzip", "gzip: unexpected data after end"),
        (zlib.compress(PLAIN)[:-8], "deflate", "deflate: truncated stream"),
        (b"\x78\x9c\xff\xff\xff\xff", "deflate", "deflate: corrupt stream"),
        (brotli.compress(PLAIN)[:-4], "br", "br: truncated stream"),
        (b"\xff\xff\xff\xff\xff\xff", "br", "br: corrupt stream"),
        (_zstd(PLAIN)[:-6], "zstd", "zstd: truncated stream"),
        (b"definitely not zstd", "zstd", "zstd: corrupt stream"),
        (PLAIN, "compress", "unknown content encoding 'compress'"),
        (PLAIN, "gzip, snappy", "unknown content encoding 'snappy'"),
        (brotli.compress(PLAIN), "gzip", "gzip: invalid header"),
    ],
)
def test_broken_streams_raise_decode_error(encoded: bytes, encoding: str, message: str) -> None:
    with pytest.raises(DecodeError, match="^" + message.replace("(", r"\(")):
        decode_content(encoded, encoding)


@pytest.mark.parametrize(
    "compress, encoding",
    [
        (gzip.compress, "gzip"),
        (zlib.compress, "deflate"),
        (brotli.compress, "br"),
        (_zstd, "zstd"),
    ],
)
def test_limit_is_exact(compress, encoding: str) -> None:
    assert decode_content(compress(bytes(1000)), encoding, limit=1000) == bytes(1000)
    with pytest.raises(DecodeError, match="body inflates beyond 999 byte cap"):
        decode_content(compress(bytes(1000)), encoding, limit=999)


def _gzip_bomb(mib: int) -> bytes:
    """A single-member gzip of ``mib`` MiB of zeros, built without holding them in memory.

    A full flush resets the deflate history, so the compressed form of one MiB of zeros
    is a self-contained run of blocks that can be repeated.
    """
    zeros = bytes(MIB)
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mib * MIB) & 0xFFFFFFFF)
    return header + block * mib + final + trailer


def _streamed_bomb(encoding: str, mib: int) -> bytes:
    zeros = bytes(MIB)
    if encoding == "br":
        bc = brotli.Compressor(quality=1)
        parts = [bc.process(zeros) for _ in range(mib)]
        return b"".join(parts) + bc.finish()
    if encoding == "zstd":
        zc = zstandard.ZstdCompressor(level=1).compressobj()
        parts = [zc.compress(zeros) for _ in range(mib)]
        return b"".join(parts) + zc.flush()
    return _gzip_bomb(mib)


def test_gzip_bomb_builder_makes_a_valid_stream() -> None:
    # The bomb test below is only meaningful if the builder makes real gzip.
    assert decode_content(_gzip_bomb(3), "gzip") == bytes(3 * MIB)
    assert gzip.decompress(_gzip_bomb(2)) == bytes(2 * MIB)


@pytest.mark.timeout(60)  # a hang guard, not a speed test
@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_one_gib_bomb_fails_with_bounded_memory(encoding: str) -> None:
    bomb = _streamed_bomb(encoding, 1024)
    assert len(bomb) < 2 * MIB  # about 1000:1, the point of a bomb
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="body inflates beyond 8 MiB cap"):
            decode_content(bomb, encoding)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * MIB
    assert DEFAULT_LIMIT == 8 * MIB


def test_chained_bomb_is_capped_per_step() -> None:
    # gzip inside gzip: the inner stream is small, the outer output is still capped.
    inner = _gzip_bomb(64)
    with pytest.raises(DecodeError, match="beyond 8 MiB cap"):
        decode_content(gzip.compress(inner), "gzip, gzip")
