"""Where a TLS client's ClientHello ends in the bytes it sent first.

The live proxy hands the passthrough stage the ClientHello as a TCP message of
its own (mitmproxy reads it to choose the layer); a replayed capture's
reassembled stream must be cut at the same place, whatever number of records
and segments the hello came in. Fingerprinting the hello (SNI, ALPN, JA3/JA4)
is ``shekara.audit.tlshello``'s, for both.
"""

from __future__ import annotations

#: A ClientHello is at most a few kilobytes; bytes beyond are not waited for.
HELLO_LIMIT = 64 * 1024


def records_length(raw: bytes | bytearray) -> int | None:
    """Bytes of the TLS records that carry the first handshake message, once all are there."""
    if len(raw) < 9:
        return None
    need = 4 + int.from_bytes(raw[6:9], "big")  # handshake header + body
    pos = 0
    while need > 0:
        if len(raw) < pos + 5 or raw[pos] != 0x16:
            return None
        length = int.from_bytes(raw[pos + 3 : pos + 5], "big")
        pos += 5 + length
        need -= length
    return pos if len(raw) >= pos else None
