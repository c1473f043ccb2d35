"""create_app wires settings, store and routers; the API never creates tables."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore

from .conftest import build_finding


def test_store_is_opened_from_settings(db_url: str) -> None:
    url = db_url
    writer_side = FindingStore(url)
    writer_side.create_schema()
    writer_side.add(writer_side.start_run("replay"), [build_finding()], [])
    _, key = create_key(writer_side.engine, "reader", "official")
    app = create_app(Settings(db_url=url))
    with TestClient(app, headers={"X-API-Key": key}) as c:
        assert c.get("/violations").json()["count"] == 1
    assert isinstance(app.state.store, FindingStore)
    assert app.state.settings.db_url == url
    writer_side.dispose()


def test_api_does_not_create_tables(db_url: str) -> None:
    url = db_url
    with TestClient(create_app(Settings(db_url=url))) as c:
        c.get("/health")
        c.get("/violations")
    probe = FindingStore(url)
    assert inspect(probe.engine).get_table_names() == []
    probe.dispose()


def test_routes_are_mounted(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/health", "/violations"} <= paths


def test_openapi_describes_the_page_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/violations"]["get"]["parameters"]}
    # The parameters of the first version stay, beside the newer filters.
    assert {"category", "country", "host", "run_id", "rule", "limit", "cursor"} <= params
    assert {"session", "vin", "vendor", "severity", "since", "until", "sort"} <= params
    assert "violation" not in params
