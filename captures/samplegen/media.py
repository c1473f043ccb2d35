"""Small but well-formed media files (JPEG, WAV, MP4) for the upload flows of the sample captures.

A driver-monitoring frame or a cabin clip is recognised by its container, not
by its picture, so the files are tiny: a uniform grey baseline JPEG, a sine
tone WAV, an MP4 whose ``mdat`` holds seeded bytes. Built from the published
container layouts with the standard library, so they check the decoder rather
than mirror it.
"""

from __future__ import annotations

import io
import math
import random
import struct
import wave


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_gray(width: int, height: int, comment: str = "") -> bytes:
    """A baseline greyscale JPEG (JFIF) of uniform mid-grey, decodable by any viewer.

    Every 8x8 block is "DC difference 0, end of block": with one-symbol Huffman
    tables that is two 0 bits per block, so the scan is tiny and needs no stuffing.
    """
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)  # pad the last byte with 1 bits, as the standard says
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big")
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, for symbol 0
    out = b"\xff\xd8"
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if comment:
        out += _segment(0xFE, comment.encode())
    out += _segment(0xDB, b"\x00" + bytes([1] * 64))  # table 0, 8-bit, all ones
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    out += _segment(0xC4, b"\x00" + one_code)  # DC table 0
    out += _segment(0xC4, b"\x10" + one_code)  # AC table 0 (symbol 0x00 = end of block)
    out += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return out + scan + b"\xff\xd9"


def wav_tone(hz: float, millis: int, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of a sine tone (a voice-assistant snippet stand-in)."""
    frames = rate * millis // 1000
    samples = (round(8000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(frames))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buf.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


def mp4_clip(rng: random.Random, size: int) -> bytes:
    """An ISO base media file: ``ftyp`` (isom), ``free``, ``mdat`` holding ``size`` seeded bytes."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")
    return ftyp + _box(b"free", b"") + _box(b"mdat", rng.randbytes(size))
