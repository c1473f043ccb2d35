"""A TLS ClientHello read from raw bytes: server name, ALPN and the JA3 / JA4 fingerprints.

A device whose TLS the proxy cannot open (pinning, client certificates) still
says who it is in its ClientHello. This module turns the bytes of that
message into a small frozen record, without a proxy or network, so the live
proxy, replay and tests fingerprint connections with the same code.

JA3: https://github.com/salesforce/ja3 (GREASE values removed).
JA4 (TLS client part of JA4+, BSD 3-clause): https://github.com/FoxIO-LLC/ja4.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["TlsHello", "TlsHelloError", "is_grease", "parse_client_hello"]

_HANDSHAKE_RECORD = 0x16
_CLIENT_HELLO = 0x01
_EXT_SERVER_NAME = 0x0000
_EXT_SUPPORTED_GROUPS = 0x000A
_EXT_EC_POINT_FORMATS = 0x000B
_EXT_SIGNATURE_ALGORITHMS = 0x000D
_EXT_ALPN = 0x0010
_EXT_SUPPORTED_VERSIONS = 0x002B

_JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
#: A ClientHello is at most a few kilobytes; anything claiming more is not one.
_MAX_HELLO = 1 << 16


class TlsHelloError(ValueError):
    """The bytes are not a complete, well-formed TLS ClientHello."""


def is_grease(value: int) -> bool:
    """GREASE values (RFC 8701) are random filler that fingerprints must ignore."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass(frozen=True, slots=True)
class TlsHello:
    """What a ClientHello reveals about the client and where it wants to go."""

    #: Server name indication (host name), None when the client sent none.
    sni: str | None
    #: ALPN protocols in the client's order ("h2", "http/1.1", "mqtt", ...).
    alpn: tuple[str, ...]
    #: JA3 string: version,ciphers,extensions,groups,point formats (decimal, GREASE removed).
    ja3: str
    #: MD5 of the JA3 string, the form JA3 databases list.
    ja3_md5: str
    #: JA4 fingerprint, e.g. "t13d1516h2_8daaf6152771_02713d6af862".
    ja4: str
    #: JA4_r: the same with the sorted lists spelt out instead of hashed.
    ja4_r: str
    #: Highest TLS version the client offered (0x0304 for TLS 1.3).
    version: int
    #: Cipher suites and extension types in wire order, GREASE included.
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...]


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise TlsHelloError(f"ClientHello truncated in {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u24(self, what: str) -> int:
        return int.from_bytes(self.take(3, what), "big")

    def vector(self, length_size: int, what: str) -> bytes:
        n = int.from_bytes(self.take(length_size, what), "big")
        return self.take(n, what)

    def done(self) -> bool:
        return self.pos >= len(self.data)


def _handshake_from_records(raw: bytes) -> bytes:
    """Joins the payloads of consecutive handshake records (a hello may span several)."""
    out = bytearray()
    reader = _Reader(raw)
    while not reader.done():
        content_type = reader.u8("record header")
        if content_type != _HANDSHAKE_RECORD:
            if out:
                break
            raise TlsHelloError(f"record type {content_type:#04x} is not a handshake")
        reader.take(2, "record version")
        out += reader.vector(2, "record payload")
        if len(out) >= 4 and len(out) >= 4 + int.from_bytes(out[1:4], "big"):
            break
    return bytes(out)


def _u16_list(data: bytes, what: str) -> list[int]:
    if len(data) % 2:
        raise TlsHelloError(f"odd length in {what}")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _server_name(data: bytes) -> str | None:
    reader = _Reader(_Reader(data).vector(2, "server name list"))
    while not reader.done():
        name_type = reader.u8("server name type")
        name = reader.vector(2, "server name")
        if name_type == 0:
            return name.decode("ascii", errors="replace")
    return None


def _alpn(data: bytes) -> tuple[str, ...]:
    reader = _Reader(_Reader(data).vector(2, "ALPN list"))
    protocols: list[str] = []
    while not reader.done():
        protocols.append(reader.vector(1, "ALPN protocol").decode("latin-1"))
    return tuple(protocols)


def _ja4_alpn(first: str | None) -> str:
    if not first:
        return "00"
    if first[0].isascii() and first[0].isalnum() and first[-1].isascii() and first[-1].isalnum():
        return first[0] + first[-1]
    # Non-alphanumeric ends: first and last hex digit of the value (JA4 spec).
    spelt = first.encode("latin-1").hex()
    return spelt[0] + spelt[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def parse_client_hello(raw: bytes) -> TlsHello:
    """Reads a ClientHello given as TLS record(s) or as a bare handshake message.

    Raises TlsHelloError for anything else (other record types, truncation,
    malformed vectors); never another exception.
    """
    if len(raw) > _MAX_HELLO + 5 * 4:
        raise TlsHelloError("too large for a ClientHello")
    if raw[:1] == bytes([_HANDSHAKE_RECORD]):
        raw = _handshake_from_records(raw)
    reader = _Reader(raw)
    if reader.u8("handshake type") != _CLIENT_HELLO:
        raise TlsHelloError("handshake message is not a ClientHello")
    body = _Reader(reader.take(reader.u24("handshake length"), "handshake body"))

    legacy_version = body.u16("client version")
    body.take(32, "random")
    body.vector(1, "session id")
    ciphers = _u16_list(body.vector(2, "cipher suites"), "cipher suites")
    body.vector(1, "compression methods")

    extensions: list[int] = []
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    groups: list[int] = []
    point_formats: list[int] = []
    signature_algorithms: list[int] = []
    versions: list[int] = []
    if not body.done():
        ext_reader = _Reader(body.vector(2, "extensions"))
        while not ext_reader.done():
            ext_type = ext_reader.u16("extension type")
            ext_data = ext_reader.vector(2, f"extension {ext_type:#06x}")
            extensions.append(ext_type)
            if ext_type == _EXT_SERVER_NAME and ext_data:
                sni = _server_name(ext_data)
            elif ext_type == _EXT_ALPN and ext_data:
                alpn = _alpn(ext_data)
            elif ext_type == _EXT_SUPPORTED_GROUPS and ext_data:
                groups = _u16_list(_Reader(ext_data).vector(2, "groups"), "groups")
            elif ext_type == _EXT_EC_POINT_FORMATS and ext_data:
                point_formats = list(_Reader(ext_data).vector(1, "point formats"))
            elif ext_type == _EXT_SIGNATURE_ALGORITHMS and ext_data:
                signature_algorithms = _u16_list(
                    _Reader(ext_data).vector(2, "signature algorithms"), "signature algorithms"
                )
            elif ext_type == _EXT_SUPPORTED_VERSIONS and ext_data:
                versions = _u16_list(_Reader(ext_data).vector(1, "versions"), "versions")

    def plain(values: list[int]) -> list[int]:
        return [v for v in values if not is_grease(v)]

    ja3 = ",".join(
        (
            str(legacy_version),
            "-".join(map(str, plain(ciphers))),
            "-".join(map(str, plain(extensions))),
            "-".join(map(str, plain(groups))),
            "-".join(map(str, point_formats)),
        )
    )

    offered = plain(versions)
    version = max(offered) if offered else legacy_version
    ja4_ciphers = sorted(f"{c:04x}" for c in plain(ciphers))
    ja4_extensions = plain(extensions)
    sorted_ext = sorted(
        f"{e:04x}" for e in ja4_extensions if e not in (_EXT_SERVER_NAME, _EXT_ALPN)
    )
    sig_algs = [f"{s:04x}" for s in signature_algorithms]
    header = (
        "t"
        + _JA4_VERSIONS.get(version, "00")
        + ("d" if sni is not None else "i")
        + f"{min(len(ja4_ciphers), 99):02d}"
        + f"{min(len(ja4_extensions), 99):02d}"
        + _ja4_alpn(alpn[0] if alpn else None)
    )
    cipher_text = ",".join(ja4_ciphers)
    ext_text = ",".join(sorted_ext)
    if sig_algs:
        ext_text += "_" + ",".join(sig_algs)
    ja4 = "_".join(
        (
            header,
            _sha12(cipher_text) if ja4_ciphers else "0" * 12,
            _sha12(ext_text) if sorted_ext else "0" * 12,
        )
    )
    return TlsHello(
        sni=sni,
        alpn=alpn,
        ja3=ja3,
        ja3_md5=hashlib.md5(ja3.encode("ascii"), usedforsecurity=False).hexdigest(),
        ja4=ja4,
        ja4_r=f"{header}_{cipher_text}_{ext_text}",
        version=version,
        cipher_suites=tuple(ciphers),
        extensions=tuple(extensions),
    )
