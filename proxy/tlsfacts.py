"""What a TLS ClientHello tells about an encrypted connection: server name and fingerprint.

The content of an encrypted transfer cannot be read without its keys, so a
replay records where it went (SNI), what software sent it (JA3/JA4) and how
many bytes moved. The fingerprints come from ``shekara.audit.tlshello`` when
it is installed; otherwise scapy's TLS layer gives the server name and ALPN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HelloFacts:
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    ja3: str | None = None
    ja4: str | None = None
    error: str | None = None

    def text(self) -> str:
        parts = [f"SNI {self.sni}" if self.sni else "no SNI"]
        if self.alpn:
            parts.append("ALPN " + ",".join(self.alpn))
        if self.ja3:
            parts.append(f"JA3 {self.ja3}")
        if self.ja4:
            parts.append(f"JA4 {self.ja4}")
        if self.error:
            parts.append(f"ClientHello unreadable: {self.error}")
        return ", ".join(parts)


def hello_complete(raw: bytes) -> bool:
    """Whether ``raw`` holds the whole first handshake message of the client."""
    if len(raw) < 9:
        return False
    return len(raw) >= 9 + int.from_bytes(raw[6:9], "big")


def describe(raw: bytes) -> HelloFacts:
    if not raw:
        return HelloFacts(error="no client bytes captured")
    try:
        from shekara.audit import tlshello  # type: ignore[attr-defined]
    except ImportError:
        return _scapy_facts(raw)
    try:
        h = tlshello.parse_client_hello(raw)
    except Exception as e:  # a damaged hello is a fact about the connection, not a failure
        return HelloFacts(error=f"{type(e).__name__}: {e}")
    return HelloFacts(
        sni=getattr(h, "sni", None),
        alpn=tuple(getattr(h, "alpn", ()) or ()),
        ja3=getattr(h, "ja3_md5", None) or getattr(h, "ja3", None),
        ja4=getattr(h, "ja4", None),
    )


def _scapy_facts(raw: bytes) -> HelloFacts:
    try:
        from scapy.layers.tls.extensions import TLS_Ext_ALPN, TLS_Ext_ServerName
        from scapy.layers.tls.handshake import TLSClientHello
        from scapy.layers.tls.record import TLS

        record = TLS(raw)
        hello = record.getlayer(TLSClientHello)
        if hello is None:
            return HelloFacts(error="no ClientHello in the first record")
        sni: str | None = None
        alpn: tuple[str, ...] = ()
        for ext in hello.ext or []:
            if isinstance(ext, TLS_Ext_ServerName) and ext.servernames:
                sni = ext.servernames[0].servername.decode("ascii", "replace")
            elif isinstance(ext, TLS_Ext_ALPN):
                alpn = tuple(p.protocol.decode("ascii", "replace") for p in ext.protocols)
        return HelloFacts(sni=sni, alpn=alpn)
    except Exception as e:
        log.debug("ClientHello unreadable", exc_info=True)
        return HelloFacts(error=f"{type(e).__name__}: {e}")
