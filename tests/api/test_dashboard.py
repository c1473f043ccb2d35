"""The dashboard in headless Chromium over a store filled from captures/sample.mitm.

A real server (uvicorn on loopback), a real browser (Debian's chromium driven
by Playwright), the real sample capture: the official opens the dashboard with
a key, applies a filter, opens a finding's evidence and sees what the API holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore

from .serving import CHROMIUM, chromium, open_dashboard, serve

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, FindingStore]]:
    """(base URL, official key, store) of an API serving the replayed sample capture."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium")
    root = tmp_path_factory.mktemp("dashboard")
    db = f"sqlite:///{root / 'store.db'}"
    env = {**os.environ, "SHEKARA_HOME": str(root / "home")}
    shekara = shutil.which("shekara", path=str(Path(sys.executable).parent)) or "shekara"
    proc = subprocess.run(
        [shekara, "replay", str(ROOT / "captures" / "sample.mitm"), "--db", db],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    store = FindingStore(db)
    _, key = create_key(store.engine, "dashboard test", "official")
    settings = Settings(db_url=db, status_file=None, hashing_key_file=root / "home" / "hmac.key")
    try:
        with serve(create_app(settings, store=store)) as base:
            yield base, key, store
    finally:
        store.dispose()


def _planted(flow_id: str, locator: str) -> str:
    """The plain value the sample capture's manifest says a flow carries at ``locator``."""
    manifest = json.loads((ROOT / "captures" / "sample.manifest.json").read_text())
    return next(
        str(f["value"]) for f in manifest["flows"][flow_id]["findings"] if f["field"] == locator
    )


def test_filter_and_evidence_in_chromium(
    served: tuple[str, str, FindingStore], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, key, store = served
    stored = store.query_violations(category="vin", limit=1000)
    assert stored, "the sample capture should hold VIN transfers"
    with chromium() as browser:
        page, errors = open_dashboard(browser, base, key)
        # The key left the address bar as soon as it was read.
        assert key not in page.url
        flows = page.locator("#map path.flow")
        expect(flows.first).to_be_attached()
        countries = {flows.nth(i).get_attribute("data-country") for i in range(flows.count())}
        assert countries and "KZ" not in countries

        page.evaluate("document.body.dataset.ready = ''")
        page.select_option("#filter-category", "vin")
        page.click("#apply")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        rows = page.locator("#findings tbody tr")
        expect(rows.first).to_be_visible()
        categories = rows.locator("td.category").all_text_contents()
        assert categories and set(categories) == {"vin"}
        assert page.locator("#count").text_content() == f"({len(stored)})"

        first = rows.first
        finding_id = int(first.get_attribute("data-id") or 0)
        first.click()
        expect(page.locator("#evidence")).to_be_visible()
        expect(page.locator("#ev-id")).to_have_text(str(finding_id))
        want = next(s for s in stored if s.id == finding_id).finding
        assert page.locator("#ev-locator").text_content() == want.field
        assert page.locator("#ev-preview").text_content() == want.preview
        assert page.locator("#ev-value-hash").text_content() == want.value_hash
        assert page.locator("#ev-country").text_content() == want.destination.country
        assert want.destination.geo_source in (page.locator("#ev-geo").text_content() or "")
        assert "*" in want.preview
        # The flow that carried it: method and URL as stored, redacted, never the value.
        meta = store.get_flow(next(s.run_id for s in stored if s.id == finding_id), want.flow_id)
        assert meta is not None and meta.method and meta.url
        request = page.locator("#ev-request").text_content() or ""
        assert f"{meta.method} {meta.url}" in request
        assert meta.url.startswith(f"{meta.protocol}://{want.destination.host}")
        assert str(meta.status) == page.locator("#ev-status").text_content()
        assert f"sent {meta.request_body_bytes} B" in (
            page.locator("#ev-sizes").text_content() or ""
        )
        assert meta.digest in (page.locator("#ev-flow-hash").text_content() or "")

        # A VIN sent in the URL's path: the drill-down shows the URL with it masked.
        in_path = next(s for s in stored if s.finding.field.startswith("request.path"))
        page.click(f"#findings tbody tr[data-id='{in_path.id}']")
        expect(page.locator("#ev-id")).to_have_text(str(in_path.id))
        shown = page.locator("#ev-request").text_content() or ""
        plain = _planted(in_path.finding.flow_id, in_path.finding.field)
        assert in_path.finding.preview in shown and plain not in shown
        assert shown.startswith("HTTP") and " https://" in shown

        # A test drive goes on: a finding stored now appears without a reload.
        expect(page.locator("#live")).to_have_text("live: on")
        run = store.start_run("proxy")
        store.add(run, [replace(want, flow_id="live-drive", observed_at=time.time())])
        (fresh,) = store.query_findings(run_id=run, limit=10)
        expect(page.locator(f"#findings tbody tr[data-id='{fresh.id}']")).to_be_visible(
            timeout=20_000
        )
        expect(page.locator("#count")).to_have_text(f"({len(stored) + 1})")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000
        assert not errors, errors


def test_uncertain_destinations_are_marked_in_chromium(
    served: tuple[str, str, FindingStore], tmp_path: Path
) -> None:
    """A CDN edge placed by the Locator is low confidence: its row says so, marked apart."""
    from playwright.sync_api import expect

    from shekara.audit.model import Category, Confidence, Verdict
    from shekara.geo.locate import Locator
    from shekara.geo.names import NameBook

    from .conftest import build_finding

    base, key, store = served
    names = NameBook()
    names.learn(
        {"tiles.edge-test.de": "tiles.edge-test.de.cdn.cloudflare.net"},
        [("tiles.edge-test.de.cdn.cloudflare.net", "88.198.0.77")],
    )
    edge = Locator.from_paths([], names=names).locate("tiles.edge-test.de", "88.198.0.77", 443)
    assert edge.confidence is Confidence.LOW and edge.cdn == "Cloudflare"
    run = store.start_run("proxy")
    store.add(
        run,
        [
            build_finding(
                flow_id="edge",
                category=Category.PHONE,
                destination=edge,
                verdict=Verdict.CDN_EDGE,
                violation=False,
            )
        ],
    )
    with chromium() as browser:
        page, errors = open_dashboard(browser, base, key)
        rows = page.locator("#destinations tbody tr")
        expect(rows.first).to_be_visible()
        # The sample capture's servers, placed by one database: medium, not marked.
        plain = page.locator("#destinations tbody tr:not(.caveat)")
        expect(plain.first).to_be_visible()
        assert "⚠" not in (plain.first.locator("td.confidence").text_content() or "")

        page.evaluate("document.body.dataset.ready = ''")
        page.uncheck("#filter-violation")
        page.fill("#filter-host", "tiles.edge-test.de")
        page.click("#apply")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        row = page.locator("#destinations tbody tr[data-host='tiles.edge-test.de']")
        expect(row).to_be_visible()
        assert row.get_attribute("data-confidence") == "low"
        assert "caveat" in (row.get_attribute("class") or "")
        cell = row.locator("td.confidence")
        expect(cell).to_contain_text("⚠ low confidence")
        expect(cell).to_contain_text("CDN edge (Cloudflare)")
        colour = cell.evaluate("el => getComputedStyle(el).color")
        assert colour == "rgb(168, 67, 0)", colour
        expect(page.locator("#dest-count")).to_have_text("(1)")
        page.screenshot(path=str(tmp_path / "destinations.png"), full_page=True)
        assert not errors, errors
