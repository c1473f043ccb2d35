"""A finding's evidence shows the flow that carried it, for the replayed sample capture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore
from shekara.proxy import pipeline, replay

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "captures" / "sample.mitm"


@pytest.fixture
def replayed(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, FindingStore, int]]:
    """The sample capture replayed into the store, and an official's client of the API."""
    ctx = pipeline.build(db_url, "replay", home=tmp_path / "home")
    result = replay.replay(SAMPLE, ctx.addons, remark=ctx.remark)
    ctx.close(result.flows, "completed")
    store = FindingStore(db_url)
    _, key = create_key(store.engine, "flow evidence", "official")
    settings = Settings(db_url=db_url, status_file=None, hashing_key_file=tmp_path / "home" / "k")
    with TestClient(create_app(settings, store=store), headers={"X-API-Key": key}) as client:
        yield client, store, ctx.run_id
    store.dispose()


def _manifest() -> dict[str, dict]:
    return json.loads((ROOT / "captures" / "sample.manifest.json").read_text())["flows"]


def test_evidence_shows_method_redacted_url_status_sizes_and_times(
    replayed: tuple[TestClient, FindingStore, int],
) -> None:
    client, store, run = replayed
    manifest = _manifest()
    stored = store.query_findings(run_id=run, limit=10_000)
    assert len(stored) > 50
    # Every finding's flow has its metadata; the ones sent in a URL show it masked.
    in_url = [s for s in stored if s.finding.source in ("request.query", "request.path")]
    assert {s.finding.source for s in in_url} == {"request.query", "request.path"}
    for s in stored:
        body = client.get(f"/findings/{s.id}").json()
        flow = body["flow"]
        assert flow["flow_id"] == s.finding.flow_id
        assert flow["protocol"] in ("http", "https", "wss", "mqtt", "tcp")
        assert flow["metadata_verified"] is True
        meta = store.get_flow(run, s.finding.flow_id)
        assert meta is not None and flow["metadata_sha256"] == meta.digest
        assert (flow["method"], flow["url"], flow["status"]) == (meta.method, meta.url, meta.status)
        assert flow["started_at"] is not None and flow["client"] and flow["server"]
        assert flow["request_body_bytes"] is not None and flow["request_body_bytes"] >= 0
        if flow["protocol"] in ("http", "https"):
            assert flow["method"] in ("GET", "POST", "PUT")
            assert flow["status"] == 200 and flow["duration_s"] >= 0
            assert flow["url"].startswith(f"{flow['protocol']}://{s.finding.destination.host}")
            assert flow["request_bytes"] > flow["request_body_bytes"]
        for planted in manifest[s.finding.flow_id]["findings"]:
            value = str(planted["value"])
            if len(value) >= 6 and planted["category"] != "remote_control":
                assert value not in flow["url"] and value not in unquote(flow["url"])
    vin_in_path = next(s for s in in_url if s.finding.source == "request.path")
    url = client.get(f"/findings/{vin_in_path.id}").json()["flow"]["url"]
    assert vin_in_path.finding.preview in url
    imei_in_query = next(s for s in in_url if s.finding.category == "imei")
    url = client.get(f"/findings/{imei_in_query.id}").json()["flow"]["url"]
    assert f"imei={imei_in_query.finding.preview}" in url and "lat=43.2" in url


def test_a_changed_row_no_longer_verifies(replayed: tuple[TestClient, FindingStore, int]) -> None:
    from sqlalchemy import update

    from shekara.evidence import schema

    client, store, run = replayed
    s = store.query_findings(run_id=run, limit=1)[0]
    with store.engine.begin() as conn:
        conn.execute(
            update(schema.flows)
            .where(schema.flows.c.run_id == run, schema.flows.c.flow_id == s.finding.flow_id)
            .values(status=204)
        )
    flow = client.get(f"/findings/{s.id}").json()["flow"]
    assert flow["status"] == 204 and flow["metadata_verified"] is False
