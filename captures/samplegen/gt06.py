"""A GT06/Concox encoder for the sample captures (frame layout per the protocol notes).

Written from the published frame layout, not from the project's decoder, so
that the sample capture checks the decoder rather than mirroring it.
"""

from __future__ import annotations

from crc import Calculator, Crc16

_X25 = Calculator(Crc16.X25)

#: The serving cell the sample tracker reports: MCC 401 (Kazakhstan), MNC 01, LAC, cell id.
CELL = (401, 1, 4321, 123456)


def frame(proto: int, content: bytes, serial: int) -> bytes:
    length = 1 + len(content) + 2 + 2
    body = bytes([length, proto]) + content + serial.to_bytes(2, "big")
    return b"\x78\x78" + body + _X25.checksum(body).to_bytes(2, "big") + b"\r\n"


def login(imei: str, serial: int = 1) -> bytes:
    return frame(0x01, bytes.fromhex("0" + imei), serial)


def cell_text(cell: tuple[int, int, int, int] = CELL) -> str:
    """``MCC-MNC-LAC-CI`` (MNC two digits at least): how a serving cell is written down."""
    mcc, mnc, lac, ci = cell
    return f"{mcc:03d}-{mnc:02d}-{lac}-{ci}"


def position(
    lat: float,
    lon: float,
    when: tuple[int, ...],
    serial: int = 2,
    cell: tuple[int, int, int, int] = CELL,
) -> bytes:
    """0x12 GPS+LBS: degrees x 1,800,000; bit 10 north, bit 11 west, bit 12 positioned.

    The LBS block after the GPS one is MCC (2 bytes), MNC (1), LAC (2), cell id (3).
    """
    mcc, mnc, lac, ci = cell
    status = 0x1000 | 90 | (0x0400 if lat >= 0 else 0) | (0x0800 if lon < 0 else 0)
    content = (
        bytes([*when, 0xC9])
        + round(abs(lat) * 1_800_000).to_bytes(4, "big")
        + round(abs(lon) * 1_800_000).to_bytes(4, "big")
        + bytes([35])
        + status.to_bytes(2, "big")
        + mcc.to_bytes(2, "big")
        + bytes([mnc])
        + lac.to_bytes(2, "big")
        + ci.to_bytes(3, "big")
    )
    return frame(0x12, content, serial)


def server_command(text: str, serial: int = 7) -> bytes:
    """0x80: length, 4-byte server flag, ASCII command, 2-byte language."""
    raw = text.encode()
    return frame(0x80, bytes([4 + len(raw)]) + b"\0\0\0\x01" + raw + b"\x00\x02", serial)
