"""The dashboard's "Install the audit CA" panel in headless Chromium.

A real server (uvicorn on loopback), a real browser (Debian's chromium driven
by Playwright): an engineer makes a link, the QR code the browser draws is
read back by zxing-cpp from a screenshot, and the link it names downloads the
certificate; an official is told the panel is not theirs and stays logged in.
"""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from shekara.api import calink
from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore
from shekara.proxy.cacmd import ca_certificate, export

from .serving import CHROMIUM, chromium, open_dashboard, serve

pytestmark = pytest.mark.slow

PUBLIC = "http://10.77.0.1:8000"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    """(base URL, keys by scope, CA home) of an API whose links name the audit Wi-Fi address."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium")
    root = tmp_path_factory.mktemp("dashboard-ca")
    db = f"sqlite:///{root / 'store.db'}"
    store = FindingStore(db)
    store.create_schema()
    keys = {scope: create_key(store.engine, scope, scope)[1] for scope in ("official", "engineer")}
    settings = Settings(
        db_url=db,
        status_file=None,
        hashing_key_file=root / "home" / "hmac.key",
        ca_home=root / "home",
        public_url=PUBLIC,  # type: ignore[arg-type]
    )
    try:
        with serve(create_app(settings, store=store)) as base:
            yield base, keys, root / "home"
    finally:
        store.dispose()


def test_ca_panel_in_chromium(served: tuple[str, dict[str, str], Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, keys, home = served
    with chromium() as browser:
        page, errors = open_dashboard(browser, base, keys["engineer"])
        expect(page.locator("#ca-result")).to_be_hidden()
        page.select_option("#ca-format", "der")
        page.click("#ca-make")
        qr = page.locator("#ca-qr > svg")
        expect(qr).to_be_visible()
        assert qr.locator("path").count() >= 1
        # Only drawing survives the copy into the page.
        assert page.locator("#ca-qr script, #ca-qr foreignObject").count() == 0

        cert = ca_certificate(home, create=False)
        expect(page.locator("#ca-fingerprint")).to_have_text(calink.fingerprint_text(cert))
        expect(page.locator("#ca-subject")).to_have_text(cert.subject.rfc4514_string())
        url = page.locator("#ca-url").text_content() or ""
        assert url.startswith(f"{PUBLIC}/ca/download?token=der.")
        assert page.locator("#ca-url").get_attribute("href") == url
        assert (page.locator("#ca-expires").text_content() or "").startswith("20")
        expect(page.locator("#ca-warning")).to_be_hidden()

        # The code as the browser drew it, read as a phone or head unit would.
        shot = qr.screenshot()
        (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
        assert decoded.text == url
        # The link works without a key (here on loopback instead of the Wi-Fi address).
        with urllib.request.urlopen(url.replace(PUBLIC, base), timeout=10) as got:
            assert got.headers["Content-Type"] == "application/x-x509-ca-cert"
            assert got.read() == export(cert, "der")
        page.screenshot(path=str(tmp_path / "ca-panel.png"), full_page=True)

        # The page copies only drawing out of an answer, whatever else it held.
        hostile = (
            '<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=1" width="9">'
            "<script>window.pwned=2</script><foreignObject><p>x</p></foreignObject>"
            '<path d="M0 0h1" fill="url(http://203.0.113.9/x)" stroke="#000" '
            'onclick="window.pwned=3"/><image href="http://203.0.113.9/i.png"/></svg>'
        )
        copied = page.evaluate(
            "(svg) => { const n = qrNode(svg); document.body.appendChild(n); "
            "n.dispatchEvent(new Event('load')); "
            "n.querySelector('path').dispatchEvent(new Event('click')); return n.outerHTML; }",
            hostile,
        )
        assert copied == '<svg width="9"><path d="M0 0h1" stroke="#000"></path></svg>'
        assert page.evaluate("document.querySelector('body > svg').namespaceURI") == (
            "http://www.w3.org/2000/svg"
        )
        assert page.evaluate("window.pwned") is None
        assert not errors, errors

        # An official reads findings but does not install CAs: told so, still logged in.
        official = browser.new_page()
        official.on("pageerror", lambda exc: errors.append(str(exc)))
        official.goto(f"{base}/dashboard/#key={keys['official']}")
        official.wait_for_selector("body[data-ready='1']", timeout=30_000)
        official.click("#ca-make")
        expect(official.locator("#ca-error")).to_contain_text("engineer")
        expect(official.locator("#ca-result")).to_be_hidden()
        expect(official.locator("#main")).to_be_visible()
        assert not errors, errors
