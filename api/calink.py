"""Short-lived signed links to the interception CA's certificate, and their QR codes.

A head unit's browser holds no API key, so the download of the CA certificate
is authorised by the link itself: an engineer asks for a link with a key, the
head unit opens it (typed, or scanned from the dashboard's QR code) before it
expires. A link names the format and its expiry in the clear and carries an
HMAC-SHA256 tag over them and over the CA certificate's fingerprint, so it
cannot be extended, switched to another format, or used to fetch a CA made
after it was issued (the engineer compares the fingerprint shown with the link).

The tag's key is a file of its own, ``ca-link.key`` beside the CA (mode 0600,
made on first use), not the installation's hashing key: that key guards the
keyed hashes of personal data and must never change, while this one answers
unauthenticated requests and is revoked at will (delete the file: every
outstanding link stops working, nothing else does).

The tag is truncated to 128 bits, still far beyond guessing (and failed
attempts are rate-limited), so the link stays short enough to type on a head
unit's on-screen keyboard and its QR code small enough to scan off a laptop screen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import ipaddress
import re
from pathlib import Path
from typing import Literal

import segno
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from shekara.proxy.cacmd import FORMATS
from shekara.proxy.keys import load_or_create_key

LINK_KEY_FILE = "ca-link.key"
CONTEXT = b"shekara ca download link v1"
TAG_BYTES = 16
# The formats ``shekara ca export`` writes (tests check the two agree).
CaFormat = Literal["pem", "der", "p12"]

# What the certificate is served as: Android and most head units install a
# PEM or DER certificate offered as x-x509-ca-cert, Windows-based units a P12.
MEDIA_TYPES: dict[str, str] = {
    "pem": "application/x-x509-ca-cert",
    "der": "application/x-x509-ca-cert",
    "p12": "application/x-pkcs12",
}
FILENAMES: dict[str, str] = {
    "pem": "shekara-audit-ca.pem",
    "der": "shekara-audit-ca.cer",
    "p12": "shekara-audit-ca.p12",
}
_TAG_CHARS = len(base64.urlsafe_b64encode(bytes(TAG_BYTES)).rstrip(b"="))
_TOKEN = re.compile(
    rf"(?P<fmt>pem|der|p12)\.(?P<expires>[0-9]{{1,12}})\.(?P<tag>[A-Za-z0-9_-]{{{_TAG_CHARS}}})"
)
TOKEN_MAX_LENGTH = 64


def link_key(ca_home: Path, *, create: bool = True) -> bytes:
    """The installation's key for CA download links; KeyFileError if others can read it.

    ``create=False``: FileNotFoundError when there is none yet (no link was ever made).
    """
    path = ca_home / LINK_KEY_FILE
    if not create and not path.exists():
        raise FileNotFoundError(f"no CA link key in {ca_home}")
    return load_or_create_key(path)


def fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def fingerprint_text(cert: x509.Certificate) -> str:
    """SHA-256 as colon-separated hex pairs, the way Android's certificate details show it."""
    return fingerprint(cert).hex(":").upper()


def _tag(key: bytes, fmt: str, expires: int, cert_fingerprint: bytes) -> str:
    message = b"\0".join((CONTEXT, fmt.encode(), str(expires).encode(), cert_fingerprint))
    tag = hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES]
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode()


def sign(key: bytes, fmt: str, expires: int, cert_fingerprint: bytes) -> str:
    """A token for ``fmt`` of the CA with ``cert_fingerprint``, valid until ``expires``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    return f"{fmt}.{expires}.{_tag(key, fmt, expires, cert_fingerprint)}"


def verify(key: bytes, token: str, cert_fingerprint: bytes, now: float) -> str | None:
    """The format ``token`` grants for this CA now, or None (malformed, forged or expired)."""
    match = _TOKEN.fullmatch(token) if len(token) <= TOKEN_MAX_LENGTH else None
    if match is None:
        return None
    fmt, expires = match["fmt"], int(match["expires"])
    if not hmac.compare_digest(match["tag"], _tag(key, fmt, expires, cert_fingerprint)):
        return None
    return fmt if now < expires else None


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as a standalone SVG: dark on white, with the quiet zone.

    Error correction M survives a glare spot on a laptop screen; the white
    background keeps it readable from a dashboard in a dark theme.
    """
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        buffer,
        kind="svg",
        scale=5,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        svgns=True,
        svgclass="qr",
    )
    return buffer.getvalue().decode("ascii")


def is_loopback(host: str | None) -> bool:
    """Whether a link naming ``host`` could only be opened on this machine itself."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
