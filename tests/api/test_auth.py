"""Every endpoint by every role: allowed, forbidden (403), unauthenticated (401), nothing leaked."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shekara.api.apikeys import create_key, revoke_key
from shekara.api.app import create_app
from shekara.api.ratelimit import FailureLimiter
from shekara.api.routes.sessions import reports_installed
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore

from .conftest import auth

READ = {"official", "engineer", "admin"}
MANAGE = {"engineer", "admin"}
ADMIN = {"admin"}


def endpoints(store: FindingStore, fleet: dict[str, int]) -> list[tuple[str, str, Any, set[str]]]:
    """(method, path, json body, scopes allowed) for every route of the app but /health."""
    a, b, vehicle = fleet["a"], fleet["b"], fleet["vehicle"]
    finding = store.query_findings(limit=1)[0].id
    destination = store.query_destinations(limit=1)[0].id
    return [
        ("GET", "/findings", None, READ),
        ("GET", "/findings/export?format=json", None, READ),
        ("GET", f"/findings/{finding}", None, READ),
        ("GET", "/violations", None, READ),
        ("GET", "/violations/export", None, READ),
        ("GET", "/sessions", None, READ),
        ("GET", "/sessions/export", None, READ),
        ("GET", f"/sessions/{a}", None, READ),
        ("GET", f"/sessions/{a}/markers", None, READ),
        ("GET", f"/sessions/{a}/coverage", None, READ),
        ("GET", "/vehicles", None, READ),
        ("GET", f"/vehicles/{vehicle}", None, READ),
        ("GET", "/destinations", None, READ),
        ("GET", "/destinations/export", None, READ),
        ("GET", f"/destinations/{destination}", None, READ),
        ("GET", "/aggregates?by=country", None, READ),
        ("GET", "/rules", None, READ),
        ("GET", "/rules/KZ-XB-001", None, READ),
        ("GET", "/categories", None, READ),
        ("GET", f"/compare?a={a}&b={b}", None, READ),
        ("GET", "/history?make=Chery&model=Tiggo%207", None, READ),
        ("PATCH", f"/sessions/{a}", {"scenario": "city drive"}, MANAGE),
        ("POST", f"/sessions/{a}/markers", {"label": "voice assistant on"}, MANAGE),
        ("POST", "/vehicles", {"vin": "XTA21099043597153", "make": "Lada"}, MANAGE),
        ("GET", "/apikeys", None, ADMIN),
        ("POST", "/ca/link?format=pem", None, MANAGE),
        ("GET", "/metrics", None, READ),
        ("GET", f"/sessions/{a}/report?lang=en&format=html", None, READ),
    ]


def test_every_route_is_in_the_matrix(
    app: FastAPI, store: FindingStore, fleet: dict[str, int]
) -> None:
    listed = {(m, p.split("?")[0]) for m, p, _, _ in endpoints(store, fleet)}
    templates = {
        (m, path)
        for path, ops in app.openapi()["paths"].items()
        for m in (op.upper() for op in ops)
        # Public: /ca/download's link is its own authorisation (tests/api/test_ca.py).
        if path not in ("/health", "/ca/download")
    }
    a, vehicle = fleet["a"], fleet["vehicle"]
    finding = store.query_findings(limit=1)[0].id
    concrete = {
        (m, p.replace("{session_id}", str(a)))
        for m, p in {
            (m, p.replace("{vehicle_id}", str(vehicle)).replace("{finding_id}", str(finding)))
            for m, p in templates
        }
    }
    concrete = {(m, p.replace("{rule_id}", "KZ-XB-001")) for m, p in concrete}
    destination = store.query_destinations(limit=1)[0].id
    concrete = {(m, p.replace("{destination_id}", str(destination))) for m, p in concrete}
    assert concrete == listed


@pytest.mark.parametrize("role", ["official", "engineer", "admin"])
def test_each_role_gets_what_its_scope_allows(
    app: FastAPI,
    store: FindingStore,
    fleet: dict[str, int],
    keys: dict[str, str],
    role: str,
) -> None:
    with TestClient(app, headers=auth(keys[role])) as c:
        for method, path, body, allowed in endpoints(store, fleet):
            response = c.request(method, path, json=body)
            if role in allowed:
                ok = {200, 201} if reports_installed() or "/report" not in path else {501}
                assert response.status_code in ok, (method, path, response.text)
            else:
                assert response.status_code == 403, (method, path, response.text)
                assert response.json() == {"detail": "this key's scope does not allow it"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer shk_0000000000000000_" + "0" * 64},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "unknown", "basic", "malformed", "empty"],
)
def test_unauthenticated_is_401_without_data(
    store: FindingStore, settings: Settings, fleet: dict[str, int], headers: dict[str, str]
) -> None:
    # A limiter that never trips: this test is about 401s, not 429s.
    app = create_app(settings.model_copy(update={"auth_max_failures": 10_000}), store=store)
    with TestClient(app, headers=headers) as c:
        for method, path, body, _ in endpoints(store, fleet):
            response = c.request(method, path, json=body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"detail": "authentication required"}
            assert response.headers["www-authenticate"] == "Bearer"


def test_health_stays_public(anon: TestClient) -> None:
    assert anon.get("/health").status_code == 200


def test_both_headers_are_accepted(anon: TestClient, keys: dict[str, str]) -> None:
    assert anon.get("/rules", headers={"X-API-Key": keys["official"]}).status_code == 200
    assert anon.get("/rules", headers=auth(keys["official"])).status_code == 200


def test_a_revoked_key_is_refused(
    anon: TestClient, store: FindingStore, keys: dict[str, str]
) -> None:
    assert anon.get("/rules", headers=auth(keys["official"])).status_code == 200
    assert revoke_key(store.engine, keys["official"]) is not None
    assert anon.get("/rules", headers=auth(keys["official"])).status_code == 401


def test_a_key_with_a_wrong_secret_is_refused(anon: TestClient, keys: dict[str, str]) -> None:
    good = keys["admin"]
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert anon.get("/rules", headers=auth(bad)).status_code == 401


def test_the_store_keeps_no_secret(store: FindingStore, keys: dict[str, str]) -> None:
    from sqlalchemy import select

    from shekara.evidence import schema

    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.api_keys)).mappings().all()
    dump = repr([dict(r) for r in rows])
    for key in keys.values():
        secret = key.rsplit("_", 1)[1]
        assert secret not in dump
    assert len({r["salt"] for r in rows}) == len(rows)


def test_an_engineer_manages_only_the_sessions_it_claimed(
    app: FastAPI, fleet: dict[str, int], keys: dict[str, str]
) -> None:
    a, b = fleet["a"], fleet["b"]
    with TestClient(app) as c:
        first = c.post(
            f"/sessions/{a}/markers", json={"label": "x"}, headers=auth(keys["engineer"])
        )
        assert first.status_code == 201
        other = c.post(
            f"/sessions/{a}/markers", json={"label": "y"}, headers=auth(keys["engineer2"])
        )
        assert other.status_code == 403
        assert "x" not in other.text and str(a) not in other.text
        patch = c.patch(f"/sessions/{a}", json={"firmware": "9"}, headers=auth(keys["engineer2"]))
        assert patch.status_code == 403
        # The second engineer may still claim a session nobody manages, and read the first.
        assert (
            c.patch(f"/sessions/{b}", json={"firmware": "3.3"}, headers=auth(keys["engineer2"]))
        ).status_code == 200
        assert c.get(f"/sessions/{a}", headers=auth(keys["engineer2"])).status_code == 200
        # An admin manages every session without claiming it.
        assert (
            c.patch(f"/sessions/{a}", json={"scenario": "audit"}, headers=auth(keys["admin"]))
        ).status_code == 200
        markers = c.get(f"/sessions/{a}/markers", headers=auth(keys["official"])).json()
    assert [m["label"] for m in markers] == ["navigation on", "x"]


def test_repeated_failures_are_rate_limited(
    store: FindingStore, settings: Settings, keys: dict[str, str]
) -> None:
    app = create_app(settings.model_copy(update={"auth_max_failures": 3}), store=store)
    with TestClient(app) as c:
        bad = auth("shk_0000000000000000_" + "1" * 64)
        assert [c.get("/rules", headers=bad).status_code for _ in range(3)] == [401] * 3
        blocked = c.get("/rules", headers=bad)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        # Blocked means blocked: a good key from the same address waits too.
        assert c.get("/rules", headers=auth(keys["official"])).status_code == 429
        assert c.get("/health").status_code == 200


def test_the_limiter_forgets_old_failures_and_stays_bounded() -> None:
    now = [0.0]
    limiter = FailureLimiter(max_failures=2, window=10.0, max_clients=100, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.retry_after("a") == pytest.approx(10.0)
    now[0] = 10.5
    assert limiter.retry_after("a") == 0.0
    for i in range(10_000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    # The most recent offenders are the ones remembered.
    limiter.failed("10.0.39.15")
    assert limiter.retry_after("10.0.39.15") > 0


def test_cors_is_closed_by_default(anon: TestClient) -> None:
    response = anon.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = anon.options(
        "/findings",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_opens_to_configured_origins(store: FindingStore, settings: Settings) -> None:
    app = create_app(
        settings.model_copy(update={"cors_origins": ["https://registry.gov.kz"]}), store=store
    )
    with TestClient(app) as c:
        ok = c.get("/health", headers={"Origin": "https://registry.gov.kz"})
        assert ok.headers["access-control-allow-origin"] == "https://registry.gov.kz"
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_keys_made_for_one_store_do_not_open_another(
    store: FindingStore, settings: Settings, tmp_path: Any
) -> None:
    other = FindingStore(f"sqlite:///{tmp_path / 'other.db'}")
    other.create_schema()
    _, key = create_key(other.engine, "elsewhere", "admin")
    with TestClient(create_app(settings, store=store)) as c:
        assert c.get("/rules", headers=auth(key)).status_code == 401
    other.dispose()
