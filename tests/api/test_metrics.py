"""GET /metrics: Prometheus figures read from the store and the station's status."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.audit.model import Note
from shekara.evidence.store import FindingStore

from .conftest import auth


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_metrics_from_the_store_and_station(
    store: FindingStore,
    runs: tuple[int, int],
    settings: Settings,
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    a, b = runs
    store.add(a, [], [Note(flow_id="x", source="request.body", reason="opaque payload")])
    store.finish_run(a, flows_read=40, status="completed")
    store.finish_run(b, flows_read=2, status="failed", error="damaged capture")
    status = tmp_path / "status.json"
    status.write_text(
        json.dumps(
            {"state": "running", "updated_at": time.time(), "store": "ok", "spool_records": 7}
        )
    )
    app = create_app(settings.model_copy(update={"status_file": status}), store=store)
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        response = c.get("/metrics", headers=auth(keys["official"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = _samples(response.text)
    assert got[("shekara_flows_analysed_total", ())] == 42
    finding = "shekara_findings_total"
    assert got[(finding, (("category", "vin"), ("country", "CN"), ("violation", "true")))] == 12
    assert got[(finding, (("category", "phone"), ("country", "CN"), ("violation", "true")))] == 3
    assert got[(finding, (("category", "vin"), ("country", "KZ"), ("violation", "false")))] == 4
    assert got[("shekara_undecodable_payloads_total", ())] == 1
    assert got[("shekara_sessions", (("status", "failed"),))] == 1
    assert got[("shekara_station_spool_records", ())] == 7
    assert got[("shekara_station_problems", ())] == 0


def test_server_errors_are_counted(
    store: FindingStore, runs: tuple[int, int], app: object, keys: dict[str, str]
) -> None:
    with TestClient(app) as c:  # type: ignore[arg-type]
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE markers"))
        assert c.get(f"/sessions/{runs[0]}", headers=auth(keys["official"])).status_code == 503
        body = c.get("/metrics", headers=auth(keys["official"])).text
    assert _samples(body)[("shekara_api_errors_total", (("cause", "store"),))] == 1


def test_building_the_app_does_not_query_the_store(tmp_path: Path) -> None:
    # A store that is down must not stop the API from starting; /health says why.
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path}/missing/dir/x.db", status_file=None))
    with TestClient(app) as c:
        assert c.get("/health").status_code == 503
