"""Raw evidence past its retention period is deleted; younger files and findings stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from shekara.evidence import schema
from shekara.evidence.retention import DAY, prune_raw_evidence
from shekara.evidence.store import FindingStore

NOW = 1_800_000_000.0


def _run_with_evidence(store: FindingStore, path: Path, finished_days_ago: float | None) -> int:
    run_id = store.start_run("proxy")
    path.write_bytes(b"flows")
    values: dict[str, object] = {"raw_evidence_path": str(path), "raw_evidence_sha256": "ab" * 32}
    if finished_days_ago is not None:
        values["finished_at"] = NOW - finished_days_ago * DAY
    with store.engine.begin() as conn:
        conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**values))
    return run_id


def test_prunes_only_old_finished_runs(tmp_path: Path) -> None:
    store = FindingStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.create_schema()
    old = _run_with_evidence(store, tmp_path / "old.mitm", 40)
    young = _run_with_evidence(store, tmp_path / "young.mitm", 5)
    running = _run_with_evidence(store, tmp_path / "running.mitm", None)
    pruned = prune_raw_evidence(store, 30, now=NOW)
    assert [p.run_id for p in pruned] == [old]
    assert not (tmp_path / "old.mitm").exists()
    assert (tmp_path / "young.mitm").exists() and (tmp_path / "running.mitm").exists()
    with store.engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(schema.runs.select().where(schema.runs.c.id.in_([old, young])))
        }
    assert rows[old].raw_evidence_deleted_at is not None
    assert rows[old].raw_evidence_sha256 == "ab" * 32  # the chain's commitment stays
    assert rows[young].raw_evidence_deleted_at is None
    # Pruning again finds nothing more; the running session is never touched.
    assert prune_raw_evidence(store, 30, now=NOW) == []
    assert running not in [p.run_id for p in prune_raw_evidence(store, 0, now=NOW)]


def test_negative_period_refused(tmp_path: Path) -> None:
    store = FindingStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.create_schema()
    with pytest.raises(ValueError):
        prune_raw_evidence(store, -1)
