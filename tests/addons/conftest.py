"""The real pipeline over a real SQLite store, for addon tests without a network."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shekara.addons import pipeline
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.evidence.rows import StoredFinding, StoredNote
from shekara.evidence.store import FindingStore
from shekara.evidence.writer import StoreWriter
from shekara.geo.locate import Locator
from shekara.rulesets.loader import load_ruleset


@dataclass
class Pipeline:
    addons: list[object]
    store: FindingStore
    writer: StoreWriter
    run_id: int

    def findings(self) -> list[StoredFinding]:
        assert self.writer.flush(10)
        return self.store.query_findings(run_id=self.run_id, limit=10_000)

    def notes(self) -> list[StoredNote]:
        assert self.writer.flush(10)
        return self.store.query_notes(run_id=self.run_id, limit=10_000)


@pytest.fixture(scope="session")
def locator() -> Locator:
    return Locator.from_paths()


@pytest.fixture
def pipe(tmp_path: Path, locator: Locator) -> Iterator[Pipeline]:
    store = FindingStore(f"sqlite:///{tmp_path / 'f.db'}")
    store.create_schema()
    run_id = store.start_run("replay")
    writer = StoreWriter(store, max_delay=0.05)
    judge = Judge(load_ruleset(), Redactor(b"t" * 32))
    yield Pipeline(pipeline(locator, judge, writer, run_id), store, writer, run_id)
    writer.close(10)
