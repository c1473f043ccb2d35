"""GET /health: 200 when the store answers, 503 with the reason when it does not."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore


def test_ok_on_a_ready_store(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok"}


def test_503_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path}/missing/dir/x.db"))
    with TestClient(app) as c:
        response = c.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["db"].startswith("error: ") and "OperationalError" in body["db"]


def test_503_when_the_store_has_no_tables(tmp_path: Path) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path}/empty.db"))
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
