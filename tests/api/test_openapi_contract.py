"""The OpenAPI document is the contract: schemathesis calls every operation with generated input.

Authenticated with a real admin key over a store holding known data; any 5xx,
undocumented status, wrong content type or body off its schema fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.routes.sessions import reports_installed
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore

from .conftest import CN, DE, build_finding

API_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    root: Path = tmp_path_factory.mktemp("contract")
    store = FindingStore(f"sqlite:///{root / 'store.db'}")
    store.create_schema()
    a, b = store.start_run("replay"), store.start_run("proxy")
    store.add(a, [build_finding(flow_id=f"f{i}") for i in range(5)])
    store.add(
        b, [build_finding(flow_id=f"g{i}", destination=DE if i % 2 else CN) for i in range(5)]
    )
    _, API_KEY["admin"] = create_key(store.engine, "contract", "admin")
    app = create_app(
        Settings(
            db_url="sqlite://",
            status_file=None,
            hashing_key_file=root / "hmac.key",
            ca_home=root / "home",
            # Generated keys are never wrong ones, but keep the limiter out of the way.
            auth_max_failures=1_000_000,
        ),
        store=store,
    )
    with TestClient(app):
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    store.dispose()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, read from the app's own document at collection."""
    spec = create_app(Settings(db_url="sqlite://", status_file=None)).openapi()
    return [(method, path) for path, ops in spec["paths"].items() for method in ops]


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Positive cases for every operation; negative ones where there is input to spoil."""
    spec = create_app(Settings(db_url="sqlite://", status_file=None)).openapi()
    out = []
    for method, path in _operations():
        op = spec["paths"][path][method]
        out.append((method, path, GenerationMode.POSITIVE))
        if op.get("parameters") or op.get("requestBody"):
            out.append((method, path, GenerationMode.NEGATIVE))
    return out


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_every_operation_keeps_its_contract(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    """Valid input gets a documented answer; invalid input (negative mode) is refused."""
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {API_KEY['admin']}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        # A cursor is an opaque token the API hands out: a generated one is refused
        # with 422 by design, though no schema can tell it from a real one.
        opaque = bool(case.query and "cursor" in case.query)
        excluded = [schemathesis.checks.positive_data_acceptance] if opaque else []
        if path.endswith("/report") and not reports_installed():
            # Without the report renderer the route answers its documented 501.
            excluded.append(schemathesis.checks.not_a_server_error)
        if mode is GenerationMode.NEGATIVE:
            # The real key replaces generated auth headers, and parameters spoiled
            # into absence make a valid request: here only 5xx and off-schema
            # answers count (FastAPI's own validation is what refuses the rest).
            excluded.append(schemathesis.checks.negative_data_rejection)
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()
