"""What a TLS ClientHello tells about an encrypted connection: server name and fingerprint.

The content of an encrypted transfer cannot be read without its keys, so a
replay records where it went (SNI), what software sent it (JA3/JA4, parsed by
``shekara.audit.tlshello``) and how many bytes moved.
"""

from __future__ import annotations

from dataclasses import dataclass

from shekara.audit.tlshello import TlsHelloError, parse_client_hello


@dataclass(frozen=True, slots=True)
class HelloFacts:
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    ja3: str | None = None
    ja3_md5: str | None = None
    ja4: str | None = None
    error: str | None = None

    def text(self) -> str:
        parts = [f"SNI {self.sni}" if self.sni else "no SNI"]
        if self.alpn:
            parts.append("ALPN " + ",".join(self.alpn))
        if self.ja3_md5:
            parts.append(f"JA3 {self.ja3_md5}")
        if self.ja4:
            parts.append(f"JA4 {self.ja4}")
        if self.error:
            parts.append(f"ClientHello unreadable: {self.error}")
        return ", ".join(parts)


def _records_length(raw: bytes) -> int | None:
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


def hello_complete(raw: bytes) -> bool:
    """Whether ``raw`` holds the whole ClientHello of the client."""
    return _records_length(raw) is not None


def describe(raw: bytes) -> HelloFacts:
    if not raw:
        return HelloFacts(error="no client bytes captured")
    end = _records_length(raw)
    if end is None:
        return HelloFacts(error=f"cut short after {len(raw)} bytes")
    try:
        h = parse_client_hello(raw[:end])
    except TlsHelloError as e:  # a damaged hello is a fact about the connection
        return HelloFacts(error=str(e))
    return HelloFacts(sni=h.sni, alpn=h.alpn, ja3=h.ja3, ja3_md5=h.ja3_md5, ja4=h.ja4)
