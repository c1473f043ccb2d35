"""``/ca``: short-lived signed links to the interception CA's certificate, never its key.

A real CA made by mitmproxy (once per module, copied into each test's home
with its modes), real HMAC links, real QR codes read back by zxing-cpp.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import segno
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image

from shekara.api import calink
from shekara.api.apikeys import list_keys
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore
from shekara.proxy.cacmd import BASENAME, FORMATS, ca_certificate, confdir, export

from .conftest import auth

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
INVALID = {"detail": "invalid or expired link"}


@pytest.fixture(scope="module")
def made_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding a CA mitmproxy made (RSA key generation is the slow part)."""
    home = tmp_path_factory.mktemp("ca") / "home"
    ca_certificate(home)
    return home


@pytest.fixture
def home(made_ca: Path, tmp_path: Path) -> Path:
    """This test's own copy of the CA, modes kept (the key files stay 0600)."""
    dest = tmp_path / "ca-home"
    shutil.copytree(made_ca, dest)
    return dest


@pytest.fixture
def settings(tmp_path: Path, home: Path) -> Settings:
    return Settings(
        db_url="sqlite://",
        status_file=None,
        hashing_key_file=tmp_path / "home" / "hmac.key",
        ca_home=home,
    )


def _with(settings: Settings, **changes: object) -> Settings:
    """``settings`` with ``changes``, validated as if read from the environment."""
    return Settings(**{**settings.model_dump(), **changes})


def _ca_private_key_der(home: Path) -> tuple[bytes, bytes]:
    """The CA key as PKCS#8 DER, and its private exponent's bytes."""
    pem = (confdir(home) / f"{BASENAME}-ca.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    d = key.private_numbers().d
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der, d.to_bytes((d.bit_length() + 7) // 8, "big")


def _no_key_in(response: Response, home: Path) -> None:
    """Neither a PEM private key nor the CA key's bytes (DER, or PEM's base64) in a response."""
    body = response.content
    der, exponent = _ca_private_key_der(home)
    # mitmproxy-ca.pem holds the key and then the certificate: only the key's block counts.
    pem = (confdir(home) / f"{BASENAME}-ca.pem").read_bytes()
    block = pem[pem.index(b"PRIVATE KEY-----") : pem.index(b"-----END")]
    key_lines = block.splitlines()[1:-1]
    assert len(key_lines) > 10
    assert b"PRIVATE KEY" not in body
    assert der not in body and der[-64:] not in body and exponent[:32] not in body
    assert not any(line in body for line in key_lines)
    assert b"PRIVATE KEY" not in b"".join(f"{k}: {v}".encode() for k, v in response.headers.items())


def _link(client: TestClient, key: str, fmt: str = "pem") -> dict[str, str]:
    response = client.post("/ca/link", params={"format": fmt}, headers=auth(key))
    assert response.status_code == 200, response.text
    data: dict[str, str] = response.json()
    return data


def _token(url: str) -> str:
    return url.split("?token=", 1)[1]


def test_formats_agree_with_the_cli() -> None:
    from typing import get_args

    assert get_args(calink.CaFormat) == FORMATS
    assert set(calink.MEDIA_TYPES) == set(calink.FILENAMES) == set(FORMATS)


def test_only_engineers_and_admins_make_links(
    anon: TestClient, keys: dict[str, str], home: Path
) -> None:
    """On each back end: officials do not install CAs; no key is 401, a wrong scope 403."""
    assert anon.post("/ca/link").status_code == 401
    assert anon.post("/ca/link", headers=auth("not-a-key")).status_code == 401
    official = anon.post("/ca/link", headers=auth(keys["official"]))
    assert official.status_code == 403
    assert "url" not in official.json()
    for scope in ("engineer", "admin"):
        assert _link(anon, keys[scope])["url"].startswith("http://testserver/ca/download?token=")


@SQLITE_ONLY
def test_link_describes_the_ca_to_compare_on_the_device(
    anon: TestClient, keys: dict[str, str], home: Path, settings: Settings
) -> None:
    before = time.time()
    link = _link(anon, keys["engineer"], "der")
    cert = ca_certificate(home)
    want = cert.fingerprint(hashes.SHA256()).hex()
    assert link["sha256_fingerprint"].replace(":", "").lower() == want
    assert len(link["sha256_fingerprint"].split(":")) == 32
    assert link["subject"] == cert.subject.rfc4514_string() and "CN=" in link["subject"]
    assert link["format"] == "der"
    expires = datetime.fromisoformat(link["expires_at"]).timestamp()
    lifetime = settings.ca_link_lifetime
    assert before + lifetime - 1 <= expires <= time.time() + lifetime
    assert link["warning"] is None
    assert link["qr_svg"].startswith("<svg") and link["qr_svg"].rstrip().endswith("</svg>")


@SQLITE_ONLY
def test_the_qr_code_reads_back_as_the_link(anon: TestClient, keys: dict[str, str]) -> None:
    """What the dashboard shows is segno's drawing of the link, which a real decoder reads."""
    link = _link(anon, keys["engineer"], "p12")
    assert link["qr_svg"] == calink.qr_svg(link["url"])
    png = io.BytesIO()
    segno.make(link["url"], error="m", micro=False).save(png, kind="png", scale=4, border=4)
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.getvalue())))
    assert decoded.format == zxingcpp.BarcodeFormat.QRCode
    assert decoded.text == link["url"]


@SQLITE_ONLY
def test_public_url_names_the_address_the_car_reaches(
    store: FindingStore, keys: dict[str, str], settings: Settings
) -> None:
    on_wifi = _with(settings, public_url="http://10.77.0.1:8000/")
    with TestClient(create_app(on_wifi, store=store)) as c:
        link = _link(c, keys["engineer"])
        assert link["url"].startswith("http://10.77.0.1:8000/ca/download?token=")
        assert link["warning"] is None
        # The link the engineer got works from the head unit's side too.
        assert c.get("/ca/download", params={"token": _token(link["url"])}).status_code == 200
    # Left to the request's address, a dashboard opened on the station itself
    # would hand out a link the car cannot reach: the answer says so.
    with TestClient(create_app(settings, store=store), base_url="http://127.0.0.1:8000") as c:
        link = _link(c, keys["engineer"])
        assert link["url"].startswith("http://127.0.0.1:8000/ca/download?token=")
        assert link["warning"] and "SHEKARA_PUBLIC_URL" in link["warning"]


def test_settings_read_the_public_url_and_lifetime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHEKARA_HOME", str(tmp_path / "station"))
    monkeypatch.setenv("SHEKARA_PUBLIC_URL", "http://10.77.0.1:8000")
    monkeypatch.setenv("SHEKARA_CA_LINK_LIFETIME", "300")
    s = Settings()
    assert str(s.public_url).startswith("http://10.77.0.1:8000")
    assert s.ca_link_lifetime == 300
    # The CA the API serves is the one the proxy of this installation signs with.
    assert s.ca_home == tmp_path / "station"
    monkeypatch.setenv("SHEKARA_PUBLIC_URL", "not a url")
    with pytest.raises(ValueError):
        Settings()


@SQLITE_ONLY
@pytest.mark.parametrize("fmt", FORMATS)
def test_download_serves_the_certificate_and_only_it(
    anon: TestClient,
    keys: dict[str, str],
    home: Path,
    fmt: str,
    store: FindingStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shekara.api.routes.ca")
    link = _link(anon, keys["engineer"], fmt)
    got = anon.get("/ca/download", params={"token": _token(link["url"])})  # no API key
    assert got.status_code == 200
    # The station's log says who made the link and that it was used; never the token.
    (engineer,) = [k for k in list_keys(store.engine) if k.name == "engineer key"]
    logged = [r.getMessage() for r in caplog.records]
    assert any(engineer.key_id in m and f"({fmt})" in m for m in logged), logged
    assert any("downloaded" in m for m in logged)
    assert not any(_token(link["url"]) in m for m in logged)
    if fmt == "p12":
        # PKCS#12 salts its MAC afresh each time: the same contents, other bytes.
        served = pkcs12.load_pkcs12(got.content, None)
        made = pkcs12.load_pkcs12(export(ca_certificate(home), fmt), None)
        # Key-less, so the certificate is one of the bag's "additional" ones, and alone.
        assert served.key is None and served.cert is None
        (got_cert,), (made_cert,) = served.additional_certs, made.additional_certs
        assert got_cert.certificate == made_cert.certificate == ca_certificate(home)
        assert got_cert.friendly_name == made_cert.friendly_name == b"shekara audit CA"
    else:
        assert got.content == export(ca_certificate(home), fmt)
    media = "application/x-pkcs12" if fmt == "p12" else "application/x-x509-ca-cert"
    assert got.headers["content-type"] == media
    assert got.headers["content-disposition"] == (f'attachment; filename="{calink.FILENAMES[fmt]}"')
    assert got.headers["cache-control"] == "no-store"
    _no_key_in(got, home)
    if fmt != "p12":
        loader = x509.load_pem_x509_certificate if fmt == "pem" else x509.load_der_x509_certificate
        assert (
            loader(got.content).fingerprint(hashes.SHA256()).hex(":").upper()
            == (link["sha256_fingerprint"])
        )
    # A link may be opened again until it expires (a download interrupted on the car).
    assert anon.get("/ca/download", params={"token": _token(link["url"])}).status_code == 200


@SQLITE_ONLY
def test_spoiled_links_are_refused_alike(
    store: FindingStore, keys: dict[str, str], home: Path, settings: Settings
) -> None:
    """Expired, tampered, format-swapped, another key's or another CA's: 403, no reason."""
    patient = _with(settings, auth_max_failures=1000)
    with TestClient(create_app(patient, store=store)) as anon:
        _spoil(anon, keys, home)


def _spoil(anon: TestClient, keys: dict[str, str], home: Path) -> None:
    link = _link(anon, keys["engineer"])
    token = _token(link["url"])
    fmt, expires, tag = token.split(".")
    key = calink.link_key(home)
    fp = calink.fingerprint(ca_certificate(home))
    flipped = tag[:5] + ("A" if tag[5] != "A" else "B") + tag[6:]
    spoiled = {
        "expired": calink.sign(key, "pem", int(time.time()) - 1, fp),
        "tampered tag": f"{fmt}.{expires}.{flipped}",
        "extended": f"{fmt}.{int(expires) + 86_400}.{tag}",
        "format swapped": f"der.{expires}.{tag}",
        "another key": calink.sign(b"k" * 32, "pem", int(time.time()) + 600, fp),
        "truncated": token[:-1],
        "padded": token + "=",
        "empty": "",
        "garbage": "../../mitmproxy/mitmproxy-ca.pem",
        "long": token + "A" * 5000,
    }
    for why, bad in spoiled.items():
        got = anon.get("/ca/download", params={"token": bad})
        assert (got.status_code, got.json()) == (403, INVALID), why
        _no_key_in(got, home)
    # The real one still works: the refusals were about the tokens.
    assert anon.get("/ca/download", params={"token": token}).status_code == 200
    # A new CA (the old one deleted): links issued for the old one stop working.
    shutil.rmtree(confdir(home))
    assert anon.get("/ca/download", params={"token": token}).json() == INVALID
    fresh = _link(anon, keys["engineer"])
    assert fresh["sha256_fingerprint"] != link["sha256_fingerprint"]
    assert anon.get("/ca/download", params={"token": token}).status_code == 403
    assert anon.get("/ca/download", params={"token": _token(fresh["url"])}).status_code == 200


def test_tokens_expire_and_bind_their_ca() -> None:
    key, fp = b"s" * 32, bytes(32)
    token = calink.sign(key, "p12", 1_000, fp)
    assert calink.verify(key, token, fp, 999.5) == "p12"
    assert calink.verify(key, token, fp, 1_000) is None
    assert calink.verify(key, token, bytes(31) + b"\1", 999) is None
    assert calink.verify(key[:-1] + b"t", token, fp, 999) is None
    with pytest.raises(ValueError):
        calink.sign(key, "key", 1_000, fp)


@SQLITE_ONLY
def test_without_a_ca_a_download_makes_nothing(
    store: FindingStore, tmp_path: Path, settings: Settings
) -> None:
    """An unauthenticated caller never gets a CA or a link key created."""
    empty = tmp_path / "empty-home"
    app = create_app(_with(settings, ca_home=empty), store=store)
    with TestClient(app) as c:
        got = c.get("/ca/download", params={"token": "pem.9999999999." + "A" * 22})
    assert (got.status_code, got.json()) == (403, INVALID)
    assert not empty.exists() or not any(empty.rglob("*"))


@SQLITE_ONLY
def test_repeated_bad_links_are_slowed_down(
    store: FindingStore, keys: dict[str, str], settings: Settings
) -> None:
    app = create_app(_with(settings, auth_max_failures=3), store=store)
    with TestClient(app) as c:
        token = _token(_link(c, keys["engineer"])["url"])
        for _ in range(3):
            assert c.get("/ca/download", params={"token": "pem.1.x"}).status_code == 403
        limited = c.get("/ca/download", params={"token": token})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


@SQLITE_ONLY
@pytest.mark.parametrize("exposed", [f"mitmproxy/{BASENAME}-ca.pem", calink.LINK_KEY_FILE])
def test_an_exposed_key_file_stops_everything(
    anon: TestClient,
    keys: dict[str, str],
    home: Path,
    exposed: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = _token(_link(anon, keys["engineer"])["url"])
    os.chmod(home / exposed, 0o644)
    caplog.set_level(logging.ERROR, logger="shekara.api.routes.ca")
    for got in (
        anon.post("/ca/link", headers=auth(keys["engineer"])),
        anon.get("/ca/download", params={"token": token}),
    ):
        assert got.status_code == 500
        assert "readable by other users" in got.json()["detail"]
        # The caller learns what to fix, not where the station keeps its keys.
        assert str(home) not in got.text
        _no_key_in(got, home)
    assert any(str(home / exposed) in r.getMessage() for r in caplog.records)
    os.chmod(home / exposed, 0o600)
    assert anon.get("/ca/download", params={"token": token}).status_code == 200


@pytest.fixture
def every_answer(anon: TestClient, keys: dict[str, str], home: Path) -> Iterator[list[Response]]:
    answers: list[Response] = []
    for fmt in FORMATS:
        response = anon.post("/ca/link", params={"format": fmt}, headers=auth(keys["admin"]))
        answers.append(response)
        answers.append(anon.get("/ca/download", params={"token": _token(response.json()["url"])}))
    answers.append(anon.post("/ca/link", params={"format": "key"}, headers=auth(keys["admin"])))
    answers.append(anon.get("/ca/download"))
    answers.append(anon.get("/openapi.json"))
    yield answers


@SQLITE_ONLY
def test_no_answer_carries_the_ca_key(every_answer: list[Response], home: Path) -> None:
    assert [r.status_code for r in every_answer] == [200] * 6 + [422, 422, 200]
    for response in every_answer:
        _no_key_in(response, home)


def test_app_without_ca_settings_does_not_touch_the_station(tmp_path: Path) -> None:
    """Building the app reads no CA: the CA is made on the first link only."""
    settings = Settings(db_url="sqlite://", status_file=None, ca_home=tmp_path / "station")
    store = FindingStore("sqlite://")
    try:
        app: FastAPI = create_app(settings, store=store)
        assert "/ca/link" in app.openapi()["paths"]
    finally:
        store.dispose()
    assert not (tmp_path / "station").exists()
