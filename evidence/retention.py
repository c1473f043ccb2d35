"""Raw evidence (the flows themselves) is deleted after the retention period.

The chained findings stay verifiable: the chain and the signed closing
statement commit to the capture file's sha256, not to its presence.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, select, update

from shekara.evidence import schema
from shekara.evidence.store import FindingStore

log = logging.getLogger(__name__)

DAY = 86_400.0


@dataclass(frozen=True)
class Pruned:
    run_id: int
    path: str
    existed: bool


def prune_raw_evidence(store: FindingStore, days: float, now: float | None = None) -> list[Pruned]:
    """Deletes raw-evidence files of runs finished more than ``days`` ago."""
    if days < 0:
        raise ValueError("the retention period cannot be negative")
    cutoff = (time.time() if now is None else now) - days * DAY
    runs = schema.runs
    with store.engine.connect() as conn:
        due = conn.execute(
            select(runs.c.id, runs.c.raw_evidence_path).where(
                and_(
                    runs.c.raw_evidence_path.is_not(None),
                    runs.c.raw_evidence_deleted_at.is_(None),
                    runs.c.finished_at.is_not(None),
                    runs.c.finished_at < cutoff,
                )
            )
        ).all()
    pruned = []
    for row in due:
        run_id, path = int(row[0]), str(row[1])
        p = Path(path)
        existed = p.exists()
        p.unlink(missing_ok=True)
        with store.engine.begin() as conn:
            conn.execute(
                update(runs).where(runs.c.id == run_id).values(raw_evidence_deleted_at=time.time())
            )
        log.info("retention: deleted raw evidence of run %s (%s)", run_id, path)
        pruned.append(Pruned(run_id, path, existed))
    return pruned
