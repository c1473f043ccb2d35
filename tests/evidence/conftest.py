"""Fixtures for the store tests: a real store per test on each back end, and factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shekara.audit.model import Category, Confidence, Finding, Note, Verdict
from shekara.evidence.store import FindingStore
from tests.samples import FOREIGN


def build_finding(**overrides: Any) -> Finding:
    base = Finding(
        flow_id="flow-1",
        category=Category.VIN,
        field="request.body:$.vehicle.vin",
        source="request.body",
        preview="WVW*********1234",
        value_hash="h" * 64,
        destination=FOREIGN,
        verdict=Verdict.CROSS_BORDER,
        violation=True,
        rule_id="KZ-LOC-VIN",
        severity="high",
        detector="vin: ISO 3779 check digit valid",
        confidence=Confidence.HIGH,
        observed_at=1_700_000_000.5,
        recorded_at=1_700_000_001.25,
        legal_refs=("KZ-PDL-12(2)", "KZ-PDL-16"),
    )
    return replace(base, **overrides)


def build_note(**overrides: Any) -> Note:
    base = Note(
        flow_id="flow-1",
        source="request.body",
        reason="gzip: truncated stream",
        destination=FOREIGN,
        observed_at=1_700_000_000.5,
    )
    return replace(base, **overrides)


@pytest.fixture
def make_finding() -> Callable[..., Finding]:
    return build_finding


@pytest.fixture
def make_note() -> Callable[..., Note]:
    return build_note


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "evidence.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[FindingStore]:
    """A migrated store on a SQLite file, for what only SQLite has (pragmas, WAL)."""
    s = FindingStore(f"sqlite:///{db_path}")
    s.create_schema()
    yield s
    s.dispose()
