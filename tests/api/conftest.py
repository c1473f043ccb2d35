"""Fixtures for the API tests: a real store on each back end filled through FindingStore."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shekara.api.apikeys import SCOPES, create_key
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.audit.model import Category, Confidence, Finding, Verdict
from shekara.audit.redact import Redactor
from shekara.evidence.store import FindingStore
from shekara.proxy.keys import load_or_create_key
from tests.samples import FOREIGN

CN = FOREIGN
DE = replace(CN, host="maps.example.de", sni="maps.example.de", country="DE", city=None)
KZ = replace(CN, host="api.example.kz", sni="api.example.kz", country="KZ", city="Almaty")

# A plain VIN the tests make sure never reaches a response.
PLAIN_VIN = "WVWZZZ1JZXW000001"


def build_finding(**overrides: Any) -> Finding:
    base = Finding(
        flow_id="flow",
        category=Category.VIN,
        field="request.body:$.vehicle.vin",
        source="request.body",
        preview="WVW**********0001",
        value_hash="9f" * 32,
        destination=CN,
        verdict=Verdict.CROSS_BORDER,
        violation=True,
        rule_id="KZ-LOC-VIN",
        severity="high",
        detector="vin: ISO 3779 check digit valid",
        confidence=Confidence.HIGH,
        observed_at=1_700_000_000.0,
        recorded_at=1_700_000_001.0,
        legal_refs=("KZ-PDL-12(2)",),
    )
    return replace(base, **overrides)


@pytest.fixture
def runs(store: FindingStore) -> tuple[int, int]:
    """Two runs: 12 CN VIN + 3 CN phone + 2 DE location violations, 4 KZ non-violations."""
    a, b = store.start_run("replay"), store.start_run("proxy")
    store.add(a, [build_finding(flow_id=f"vin-{i}") for i in range(12)], [])
    store.add(
        a,
        [
            build_finding(
                flow_id=f"phone-{i}",
                category=Category.PHONE,
                rule_id="KZ-LOC-PHONE",
                field="request.query:msisdn",
                source="request.query",
            )
            for i in range(3)
        ],
        [],
    )
    store.add(
        b,
        [
            build_finding(
                flow_id=f"loc-{i}",
                category=Category.LOCATION,
                destination=DE,
                rule_id="KZ-LOC-LOCATION",
            )
            for i in range(2)
        ]
        + [
            build_finding(
                flow_id=f"kz-{i}",
                destination=KZ,
                verdict=Verdict.DOMESTIC,
                violation=False,
                rule_id="KZ-LOC-VIN",
            )
            for i in range(4)
        ],
        [],
    )
    return a, b


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a test app: its own hashing key and CA, no station status, default CORS."""
    return Settings(
        db_url="sqlite://",
        status_file=None,
        hashing_key_file=tmp_path / "home" / "hmac.key",
        ca_home=tmp_path / "home",
    )


@pytest.fixture
def app(store: FindingStore, settings: Settings) -> FastAPI:
    return create_app(settings, store=store)


@pytest.fixture
def keys(store: FindingStore) -> dict[str, str]:
    """One key of each scope, plus a second engineer's."""
    made = {scope: create_key(store.engine, f"{scope} key", scope)[1] for scope in SCOPES}
    made["engineer2"] = create_key(store.engine, "second engineer", "engineer")[1]
    return made


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client that presents no key."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def client(app: FastAPI, keys: dict[str, str]) -> Iterator[TestClient]:
    """A client that presents an official's key (reads everything)."""
    with TestClient(app, headers=auth(keys["official"])) as c:
        yield c


def hash_vin(settings: Settings, vin: str) -> str:
    return Redactor(load_or_create_key(settings.hashing_key_file)).value_hash(Category.VIN, vin)


FLEET_VIN = "LVTDB21B5ND000017"


@pytest.fixture
def fleet(store: FindingStore, runs: tuple[int, int], settings: Settings) -> dict[str, int]:
    """The two runs as sessions of one Chery Tiggo 7 (firmware 3.1 then 3.2), with a marker."""
    from sqlalchemy import insert, update

    from shekara.evidence import schema

    a, b = runs
    with store.engine.begin() as conn:
        vehicle = conn.execute(
            insert(schema.vehicles).values(
                vin_hash=hash_vin(settings, FLEET_VIN),
                vin_preview="LVT************17",
                make="Chery",
                model="Tiggo 7",
                created_at=1_699_990_000.0,
            )
        ).inserted_primary_key[0]
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == a)
            .values(vehicle_id=vehicle, firmware="3.1", started_at=1_699_999_000.0)
        )
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == b)
            .values(vehicle_id=vehicle, firmware="3.2", started_at=1_700_000_500.0)
        )
        conn.execute(
            insert(schema.markers).values(run_id=a, at=1_699_999_500.0, label="navigation on")
        )
    return {"a": a, "b": b, "vehicle": int(vehicle)}
