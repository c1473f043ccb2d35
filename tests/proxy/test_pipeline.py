"""A live session's context: what a killed session leaves is sealed at the next start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select

from shekara.evidence import raw, schema, verify
from shekara.proxy import pipeline

# A proxy session that keeps raw evidence and dies without closing anything.
KILLED_SESSION = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from shekara.proxy import pipeline
    db, home, spool = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    ctx = pipeline.build(db, "proxy", home=home, spool_dir=spool, status_path=home / "s.json")
    capture = ctx.keep_flows(home / "evidence")
    capture.write_bytes(b"flows written before the process was killed, the last one cut sh")
    print(ctx.run_id, capture, flush=True)
    os._exit(0)
    """
)


def test_a_killed_sessions_raw_evidence_hash_is_sealed_at_the_next_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'findings.db'}"
    home, spool = tmp_path / "home", tmp_path / "spool"
    out = subprocess.run(
        [sys.executable, "-c", KILLED_SESSION, db, str(home), str(spool)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    killed_run, capture = int(out[0]), Path(out[1])

    ctx = pipeline.build(db, "proxy", home=home, spool_dir=spool, status_path=home / "s.json")
    ctx.close(0, "completed")

    run = ctx.store.get_run(killed_run)
    assert run is not None and run.status == "interrupted"
    (report,) = verify.verify_store(ctx.store, killed_run)
    assert report.ok and report.state == "signed", report.describe()
    with ctx.store.engine.connect() as conn:
        sealed = conn.execute(
            select(schema.runs.c.raw_evidence_sha256).where(schema.runs.c.id == killed_run)
        ).scalar_one()
    assert sealed == raw.sha256_file(capture)
