"""``shekara ca export``: the interception CA's certificate, for installing on a head unit.

Only the certificate is ever exported (PEM, DER or a key-less PKCS#12); the
CA's private key stays in SHEKARA_HOME/mitmproxy, created by mitmproxy with
mode 0600, and is checked to be private before anything is exported.
"""

from __future__ import annotations

import argparse
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from shekara.proxy.keys import KeyFileError, shekara_home

BASENAME = "mitmproxy"
CA_KEY_SIZE = 2048
FORMATS = ("pem", "der", "p12")


def confdir(home: Path | None = None) -> Path:
    """mitmproxy's configuration folder of this installation (its CA lives there)."""
    return (home or shekara_home()) / "mitmproxy"


def ca_certificate(home: Path | None = None, *, create: bool = True) -> x509.Certificate:
    """The CA certificate, the CA created first if there is none; KeyFileError if exposed.

    ``create=False``: FileNotFoundError instead of a new CA, for callers that
    must not make one (an unauthenticated download).
    """
    from mitmproxy.certs import CertStore

    folder = confdir(home)
    if not create and not (folder / f"{BASENAME}-ca-cert.pem").exists():
        raise FileNotFoundError(f"no interception CA in {folder}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    CertStore.from_store(folder, BASENAME, CA_KEY_SIZE)
    for secret in (f"{BASENAME}-ca.pem", f"{BASENAME}-ca.p12"):
        path = folder / secret
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise KeyFileError(f"{path} holds the CA key and is readable by others")
    return x509.load_pem_x509_certificate((folder / f"{BASENAME}-ca-cert.pem").read_bytes())


def export(cert: x509.Certificate, fmt: str) -> bytes:
    if fmt == "pem":
        return cert.public_bytes(serialization.Encoding.PEM)
    if fmt == "der":
        return cert.public_bytes(serialization.Encoding.DER)
    if fmt == "p12":
        return pkcs12.serialize_key_and_certificates(
            b"shekara audit CA", None, cert, None, serialization.NoEncryption()
        )
    raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")


def cmd_ca(args: argparse.Namespace) -> int:
    try:
        data = export(ca_certificate(), args.format)
    except KeyFileError as e:
        print(f"shekara: {e}", file=sys.stderr)
        return 1
    if args.out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(args.out).write_bytes(data)
        print(f"CA certificate written to {args.out} ({args.format})", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ca",
        help="export the interception CA certificate (never its key)",
        description="export: write the CA certificate the proxy signs interception "
        "certificates with, to install on the device under test (Android and most head "
        "units take DER or PEM; Windows-based units P12). The key is never exported.",
    )
    p.add_argument("action", choices=("export",))
    p.add_argument("--format", choices=FORMATS, default="pem")
    p.add_argument("--out", default="-", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_ca)
