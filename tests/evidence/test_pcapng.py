"""pcap → pcapng with the TLS key log in a Decryption Secrets Block before the packets."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from shekara.evidence.pcapng import TLS_KEY_LOG, PcapError, pcap_to_pcapng, read_blocks

KEYLOG = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"


def write_pcap(path: Path, packets: list[bytes], nano: bool = False) -> None:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for i, p in enumerate(packets):
        out += struct.pack("<IIII", 1_795_000_000 + i, 250_000, len(p), len(p) + 4) + p
    path.write_bytes(out)


@pytest.mark.parametrize("nano", [False, True])
def test_packets_and_secrets_survive(tmp_path: Path, nano: bool) -> None:
    packets = [b"\x00" * 14 + bytes([i]) * (40 + i) for i in range(5)]
    write_pcap(tmp_path / "in.pcap", packets, nano)
    assert pcap_to_pcapng(tmp_path / "in.pcap", tmp_path / "out.pcapng", KEYLOG) == 5
    blocks = list(read_blocks(tmp_path / "out.pcapng"))
    assert [k for k, _ in blocks] == [0x0A0D0D0A, 1, 0x0A] + [6] * 5
    linktype, _, snaplen = struct.unpack_from("<HHI", blocks[1][1])
    assert (linktype, snaplen) == (1, 65535)
    secrets_type, length = struct.unpack_from("<II", blocks[2][1])
    assert secrets_type == TLS_KEY_LOG and blocks[2][1][8 : 8 + length] == KEYLOG
    for i, (_, body) in enumerate(blocks[3:]):
        _, high, low, captured, original = struct.unpack_from("<IIIII", body)
        ts = (high << 32) | low
        scale = 10**9 if nano else 10**6
        assert ts == (1_795_000_000 + i) * scale + 250_000
        assert body[20 : 20 + captured] == packets[i] and original == captured + 4


def test_without_secrets_and_cut_short(tmp_path: Path) -> None:
    write_pcap(tmp_path / "in.pcap", [b"x" * 60, b"y" * 60])
    data = (tmp_path / "in.pcap").read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[:-30])  # the second record was cut mid-way
    assert pcap_to_pcapng(tmp_path / "cut.pcap", tmp_path / "out.pcapng") == 1
    assert [k for k, _ in read_blocks(tmp_path / "out.pcapng")] == [0x0A0D0D0A, 1, 6]


def test_not_a_pcap(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"GET / HTTP/1.1\r\n" * 3)
    with pytest.raises(PcapError):
        pcap_to_pcapng(tmp_path / "x", tmp_path / "out")
