"""``shekara ca export``: the certificate in three formats, the key never."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

SHEKARA = str(Path(sys.executable).with_name("shekara"))


def export(home: Path, fmt: str) -> bytes:
    out = subprocess.run(
        [SHEKARA, "ca", "export", "--format", fmt],
        env={"SHEKARA_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_formats_hold_the_same_certificate_and_no_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pem = x509.load_pem_x509_certificate(export(home, "pem"))
    der = x509.load_der_x509_certificate(export(home, "der"))
    p12 = pkcs12.load_pkcs12(export(home, "p12"), None)
    certs = [c.certificate for c in ([p12.cert] if p12.cert else []) + p12.additional_certs]
    assert p12.key is None
    assert [pem] == [der] == certs
    assert pem.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # The CA was created once: the same on every export, its key private.
    folder = home / "mitmproxy"
    assert x509.load_pem_x509_certificate(export(home, "pem")) == pem
    for secret in ("mitmproxy-ca.pem", "mitmproxy-ca.p12"):
        assert stat.S_IMODE((folder / secret).stat().st_mode) == 0o600
    for fmt in ("pem", "der", "p12"):
        assert b"PRIVATE KEY" not in export(home, fmt)


def test_exposed_key_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    export(home, "pem")
    (home / "mitmproxy" / "mitmproxy-ca.pem").chmod(0o644)
    out = subprocess.run(
        [SHEKARA, "ca", "export"],
        env={"SHEKARA_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "readable by others" in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("fmt", ["pem", "der", "p12"])
def test_export_to_a_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"ca.{fmt}"
    out = subprocess.run(
        [SHEKARA, "ca", "export", "--format", fmt, "--out", str(target)],
        env={"SHEKARA_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert target.stat().st_size > 300
