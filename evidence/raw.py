"""Raw evidence: the session's flows themselves, kept only when the operator asks.

The file holds citizens' data in the clear, so it is created private (0600 in
a 0700 folder) and its sha256 enters the run's signed closing statement; the
retention command may delete the file later without breaking the chain.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import update

from shekara.evidence import schema
from shekara.evidence.store import FindingStore


def create_capture_file(folder: Path, run_id: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    # A run opened while the store was down has a provisional negative id until then.
    name = f"run-{run_id}" if run_id >= 0 else f"run-provisional{-run_id}-{time.time_ns()}"
    path = folder / f"{name}.mitm"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_path(store: FindingStore, run_id: int, path: Path | str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == run_id)
            .values(raw_evidence_path=str(path))
        )
