"""GET /health: 200 when the store answers and the station is well, 503 with the reason if not."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore


@pytest.fixture
def client(store: FindingStore) -> Iterator[TestClient]:
    # No station status: a proxy run on this machine must not change these tests.
    app = create_app(Settings(db_url="sqlite://", status_file=None), store=store)
    with TestClient(app) as c:
        yield c


def test_ok_on_a_ready_store(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok", "station": None}


def _station(tmp_path: Path, db: FindingStore, /, **status: Any) -> TestClient:
    path = tmp_path / "status.json"
    doc = {
        "state": "running",
        "pid": 4242,
        "updated_at": time.time(),
        "store": "ok",
        "store_error": None,
        "store_down_since": None,
        "spool_records": 0,
        "spool_bytes": 0,
        "spool_max_bytes": 1 << 28,
        "spool_full": False,
        "spool_error": None,
        "unacknowledged_findings": 0,
        "dropped_findings": 0,
        "unacknowledged_connections": 0,
        "dropped_connections": 0,
        "rejected_records": 0,
        "corrupted_records": 0,
    } | status
    path.write_text(json.dumps(doc))
    app = create_app(Settings(db_url="sqlite://", status_file=path), store=db)
    return TestClient(app)


def test_a_well_station_is_reported_with_200(tmp_path: Path, store: FindingStore) -> None:
    with _station(tmp_path, store, spool_records=3, spool_bytes=900) as c:
        response = c.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    station = body["station"]
    assert (station["state"], station["store"], station["problems"]) == ("running", "ok", [])
    assert (station["spool_records"], station["spool_bytes"]) == (3, 900)
    assert "pid" not in station


@pytest.mark.parametrize(
    "status, problem",
    [
        (
            {
                "store": "down",
                "store_error": "OperationalError: connection refused",
                "store_down_since": 1_700_000_000.0,
            },
            "store is unavailable",
        ),
        ({"spool_full": True, "unacknowledged_findings": 12}, "spool is full"),
        ({"spool_error": "OSError: [Errno 28] No space left on device"}, "cannot write"),
        ({"updated_at": time.time() - 3600}, "has not reported"),
        ({"state": "stopped", "spool_records": 5}, "not yet in the store"),
        ({"dropped_connections": 3}, "lost findings or connection records"),
        ({"dropped_findings": 1}, "lost findings or connection records"),
    ],
)
def test_a_degraded_station_gives_503(
    tmp_path: Path, store: FindingStore, status: dict[str, Any], problem: str
) -> None:
    with _station(tmp_path, store, **status) as c:
        response = c.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["db"] == "ok"
    assert any(problem in p for p in body["station"]["problems"])


def test_the_outage_details_are_shown(tmp_path: Path, store: FindingStore) -> None:
    with _station(
        tmp_path,
        store,
        store="down",
        store_error="OperationalError: connection refused",
        store_down_since=1_700_000_000.0,
        spool_records=40,
    ) as c:
        station = c.get("/health").json()["station"]
    assert station["store_error"] == "OperationalError: connection refused"
    assert station["store_down_since"].startswith("2023-11-14T22:13:20")
    assert station["spool_records"] == 40


def test_a_stopped_station_is_not_stale(tmp_path: Path, store: FindingStore) -> None:
    with _station(tmp_path, store, state="stopped", updated_at=time.time() - 86400) as c:
        response = c.get("/health")
    assert response.status_code == 200
    assert response.json()["station"]["state"] == "stopped"


@pytest.mark.parametrize("content", ["{not json", '{"state": "running"}', '{"updated_at": "x"}'])
def test_an_unreadable_status_file_is_a_problem(
    tmp_path: Path, store: FindingStore, content: str
) -> None:
    path = tmp_path / "status.json"
    path.write_text(content)
    app = create_app(Settings(db_url="sqlite://", status_file=path), store=store)
    with TestClient(app) as c:
        response = c.get("/health")
    assert response.status_code == 503
    assert response.json()["station"]["problems"]


def test_the_status_file_setting_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEKARA_HOME", str(tmp_path / "home"))
    assert Settings().status_file == tmp_path / "home" / "status.json"
    monkeypatch.setenv("SHEKARA_STATUS_FILE", str(tmp_path / "elsewhere.json"))
    assert Settings().status_file == tmp_path / "elsewhere.json"


def test_503_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path}/missing/dir/x.db"))
    with TestClient(app) as c:
        response = c.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["db"].startswith("error: ") and "OperationalError" in body["db"]


def test_503_when_the_postgresql_server_is_unreachable() -> None:
    # Port 1 on loopback: nothing listens there.
    app = create_app(Settings(db_url="postgresql://postgres@127.0.0.1:1/shekara"))
    with TestClient(app) as c:
        response = c.get("/health")
    assert response.status_code == 503
    assert "OperationalError" in response.json()["db"]


def test_503_when_the_store_has_no_tables(db_url: str) -> None:
    app = create_app(Settings(db_url=db_url))
    with TestClient(app) as c:
        response = c.get("/health")
    assert response.status_code == 503
    assert "missing tables" in response.json()["db"]


def test_503_after_a_table_is_lost(store: FindingStore, client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE notes"))
    response = client.get("/health")
    assert response.status_code == 503
    assert "notes" in response.json()["db"]
