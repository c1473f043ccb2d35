"""A session's packet capture as pcapng, with the proxy's TLS key log embedded.

tcpdump writes classic pcap; researchers want one file that Wireshark opens
already decrypted where the proxy decrypted. pcapng carries the key log in a
Decryption Secrets Block (type 0x0000000A, secrets type "TLSK"), which must
come before the packets it decrypts: the pcap is rewritten after the session,
streaming, record by record, with the block placed right after the interface.
Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_DSB = 0x0000000A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
TLS_KEY_LOG = 0x544C534B  # "TLSK"
#: Records larger than this are not packets but damage.
_MAX_RECORD = 1 << 18


class PcapError(ValueError):
    """Not a classic pcap file, or one cut short."""


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(kind: int, body: bytes) -> bytes:
    body = _pad(body)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _records(fh: BinaryIO) -> tuple[int, int, bool, Iterator[tuple[int, int, int, bytes]]]:
    head = fh.read(24)
    if len(head) < 24:
        raise PcapError("shorter than a pcap header")
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise PcapError("not a pcap file (bad magic)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    snaplen, linktype = struct.unpack(endian + "II", head[16:24])

    def gen() -> Iterator[tuple[int, int, int, bytes]]:
        while True:
            rec = fh.read(16)
            if not rec:
                return
            if len(rec) < 16:
                return  # the capture was cut mid-record: keep what came before
            sec, frac, incl, orig = struct.unpack(endian + "IIII", rec)
            if incl > _MAX_RECORD:
                raise PcapError(f"record of {incl} bytes: damaged capture")
            data = fh.read(incl)
            if len(data) < incl:
                return
            yield sec, frac, orig, data

    return linktype, snaplen, nano, gen()


def pcap_to_pcapng(pcap: Path, out: Path, keylog: bytes | None = None) -> int:
    """Writes ``out`` (pcapng) from ``pcap`` with ``keylog`` embedded; returns packets written."""
    packets = 0
    with pcap.open("rb") as src, out.open("wb") as dst:
        linktype, snaplen, nano, records = _records(src)
        shb = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)
        shb += _option(4, b"shekara") + _option(0, b"")  # shb_userappl, end of options
        dst.write(_block(_SHB, shb))
        resolution = bytes([9 if nano else 6])  # if_tsresol: 10^-9 or 10^-6 s
        idb = struct.pack("<HHI", linktype, 0, snaplen) + _option(9, resolution) + _option(0, b"")
        dst.write(_block(_IDB, idb))
        if keylog:
            dst.write(_block(_DSB, struct.pack("<II", TLS_KEY_LOG, len(keylog)) + keylog))
        scale = 1_000_000_000 if nano else 1_000_000
        for sec, frac, orig, data in records:
            ts = sec * scale + frac
            epb = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), orig) + data
            dst.write(_block(_EPB, epb))
            packets += 1
    return packets


def read_blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(block type, body) of each block of a little-endian pcapng file."""
    data = path.read_bytes()
    pos = 0
    while pos + 12 <= len(data):
        kind, length = struct.unpack_from("<II", data, pos)
        if length < 12 or pos + length > len(data):
            raise PcapError(f"damaged block at byte {pos}")
        yield kind, data[pos + 8 : pos + length - 4]
        pos += length
