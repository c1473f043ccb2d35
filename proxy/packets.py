"""Packets of a pcap or pcapng file, streamed, with only the headers that matter parsed.

scapy's raw readers walk the file record by record (never loading it whole);
the link, IP, TCP and UDP headers are then unpacked with ``struct`` because a
full scapy dissection of every packet is two orders of magnitude slower.
Anything richer (DNS, a TLS ClientHello, HTTP) is parsed later, and only for
the packets that carry it.

A file that cannot be read to its end raises :class:`CaptureDamaged` naming
the byte offset where reading stopped; the packets before it were yielded.
"""

from __future__ import annotations

import io
import logging
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

TCP = 6
UDP = 17

# Link types (https://www.tcpdump.org/linktypes.html) whose frames carry IP.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_LINKTYPES = frozenset({12, 14, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6})

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
_IPV6_EXT = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44

_u16 = struct.Struct("!H").unpack_from
_ports = struct.Struct("!HH").unpack_from
_tcp_head = struct.Struct("!HHIIBB").unpack_from
_ipv4_head = struct.Struct("!BBHHHBB").unpack_from


class CaptureDamaged(Exception):
    """The capture file cannot be read beyond ``offset``."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"stopped at byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


@dataclass(slots=True)
class Packet:
    """One IP packet carrying TCP or UDP; addresses and payload as bytes, ports as ints."""

    ts: float
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int
    payload: bytes
    # TCP only.
    seq: int = 0
    flags: int = 0


class _BoundedFile(io.RawIOBase):
    """A file whose reads never ask for more than what is left.

    A damaged length field (a pcapng block claiming 4 GiB) then costs a short
    read instead of an allocation of that size.
    """

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh = fh
        self._size = size
        self._pos = fh.tell()  # kept here: asking the file costs a system call

    def read(self, n: int | None = -1) -> bytes:
        left = self._size - self._pos
        if n is None or n < 0 or n > left:
            n = max(left, 0)
        data = self._fh.read(n)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()


def capture_format(head: bytes) -> str | None:
    """``pcap``, ``pcapng``, or None for other files, from the first bytes."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    return None


class PacketReader:
    """Iterates a capture's TCP/UDP packets; ``offset`` is where the next record starts."""

    def __init__(self, path: Path) -> None:
        from scapy.error import Scapy_Exception
        from scapy.utils import RawPcapNgReader, RawPcapReader

        # Damage is reported once, with its offset, by this reader; scapy's own
        # warnings about it would only repeat it without the offset.
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        self.path = path
        self.size = path.stat().st_size
        self.records = 0  # link-layer records read
        self.skipped = 0  # records that carry neither TCP nor UDP over IP (ARP, ICMP, fragments)
        self.offset = 0
        self._fh = path.open("rb")
        self._file = _BoundedFile(self._fh, self.size)
        magic = self._file.read(4)
        self.format = capture_format(magic)
        try:
            if self.format is None:
                raise CaptureDamaged(0, "not a pcap or pcapng file")
            cls: Any = RawPcapReader if self.format == "pcap" else RawPcapNgReader
            # Built around our bounded file, past the metaclass that would open the path again.
            self._reader: Any = object.__new__(cls)
            cls.__init__(self._reader, str(path), self._file, magic)
        except (Scapy_Exception, EOFError, struct.error) as e:
            self._fh.close()
            raise CaptureDamaged(0, str(e) or "damaged file header") from e
        except CaptureDamaged:
            self._fh.close()
            raise
        self.offset = self._file.tell()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PacketReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Packet]:
        if self.format == "pcap":
            return self._pcap()
        return self._pcapng()

    def _pcap(self) -> Iterator[Packet]:
        reader = self._reader
        # scapy bounds each pcap record read itself: the plain file is faster than the wrapper.
        reader.f = self._fh
        linktype = reader.linktype
        scale = 1e-9 if reader.nano else 1e-6
        read = reader._read_packet
        start = self.offset
        while True:
            try:
                data, meta = read(0xFFFF)
            except EOFError:
                if start != self.size:
                    raise CaptureDamaged(start, "cut or damaged record header") from None
                return
            end = start + 16 + meta.caplen
            if len(data) < min(meta.caplen, 0xFFFF) or end > self.size:
                raise CaptureDamaged(
                    start, f"record of {meta.caplen} bytes cut after {len(data)}"
                ) from None
            self.offset = start = end
            self.records += 1
            p = parse_frame(linktype, data, meta.sec + meta.usec * scale)
            if p is None:
                self.skipped += 1
            else:
                yield p

    def _pcapng(self) -> Iterator[Packet]:
        from scapy.error import Scapy_Exception

        reader = self._reader
        tell = self._file.tell
        while True:
            start = tell()
            try:
                res = reader._read_block(0xFFFF)
            except EOFError:
                if start < self.size:
                    raise CaptureDamaged(start, "damaged or cut block") from None
                return
            except (Scapy_Exception, struct.error, ValueError, IndexError, KeyError) as e:
                raise CaptureDamaged(start, f"damaged block: {e}") from None
            self.offset = tell()
            if res is None:
                continue
            data, meta = res
            self.records += 1
            ts = ((meta.tshigh << 32) + meta.tslow) / meta.tsresol
            p = parse_frame(meta.linktype, data, ts)
            if p is None:
                self.skipped += 1
            else:
                yield p


def parse_frame(linktype: int, data: bytes, ts: float) -> Packet | None:
    """The TCP or UDP packet in one link-layer frame, or None."""
    off = 0
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        ethertype = _u16(data, 12)[0]
        off = 14
        while ethertype in _ETH_VLAN and len(data) >= off + 4:
            ethertype = _u16(data, off + 2)[0]
            off += 4
    elif linktype in _RAW_LINKTYPES:
        if not data:
            return None
        ethertype = _ETH_IPV4 if data[0] >> 4 == 4 else _ETH_IPV6
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return None
        ethertype, off = _u16(data, 14)[0], 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return None
        ethertype, off = _u16(data, 0)[0], 20
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 5:
            return None
        ethertype, off = (_ETH_IPV4 if data[4] >> 4 == 4 else _ETH_IPV6), 4
    else:
        return None
    if ethertype == _ETH_IPV4:
        return _ipv4(data, off, ts)
    if ethertype == _ETH_IPV6:
        return _ipv6(data, off, ts)
    return None


def _ipv4(data: bytes, off: int, ts: float) -> Packet | None:
    if len(data) < off + 20:
        return None
    vihl, _tos, total, _ident, frag, _ttl, proto = _ipv4_head(data, off)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20 or frag & 0x3FFF:
        return None  # not IPv4, or a fragment (reassembling IP fragments is out of scope)
    end = off + total if total else len(data)  # total 0: TSO capture, length unknown
    return _transport(
        data[off + 12 : off + 16], data[off + 16 : off + 20], proto, data, off + ihl, end, ts
    )


def _ipv6(data: bytes, off: int, ts: float) -> Packet | None:
    if len(data) < off + 40:
        return None
    plen = _u16(data, off + 4)[0]
    nxt = data[off + 6]
    src, dst = data[off + 8 : off + 24], data[off + 24 : off + 40]
    end = off + 40 + plen if plen else len(data)
    off += 40
    while nxt in _IPV6_EXT:
        if len(data) < off + 2:
            return None
        nxt, off = data[off], off + 8 + data[off + 1] * 8
    if nxt == _IPV6_FRAGMENT:
        return None
    return _transport(src, dst, nxt, data, off, end, ts)


def _transport(
    src: bytes, dst: bytes, proto: int, data: bytes, off: int, end: int, ts: float
) -> Packet | None:
    end = min(end, len(data))  # Ethernet padding after the IP packet is not payload
    if proto == TCP:
        if end < off + 20:
            return None
        sport, dport, seq, _ack, doff, flags = _tcp_head(data, off)
        start = off + (doff >> 4) * 4
        if start > end:
            return None
        return Packet(ts, src, dst, TCP, sport, dport, data[start:end], seq, flags)
    if proto == UDP:
        if end < off + 8:
            return None
        sport, dport = _ports(data, off)
        return Packet(ts, src, dst, UDP, sport, dport, data[off + 8 : end])
    return None


def ip_text(addr: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)
