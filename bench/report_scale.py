"""Session report time and memory as a session grows, next to reading its findings whole.

Usage:
    python bench/report_scale.py [--findings 100000] [--steps 3]

Fills a SQLite store with one session of ``--findings`` synthetic findings
(through ``FindingStore.add``, so the hash chain is real), in ``--steps``
equal parts; after each part it measures, side by side:

- report: ``render_session_report(..., "pdf")`` and ``(..., "html")`` in
  Kazakh: SQL aggregates plus at most 200 listed findings;
- baseline: the naive report's first step, every finding of the session
  fetched into memory (``SELECT * FROM findings WHERE run_id = ?``).

Wall time (untraced) and Python's peak allocation (tracemalloc, a second
call) of each are printed, after one warm-up report (fonts, catalogs),
with the ratio report/baseline. The report's peak should stay flat as the
session grows while the baseline's grows with it. Always exits 0.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from synthetic import BASE

from shekara.audit.model import Category, Finding, Verdict
from shekara.evidence import schema
from shekara.evidence.store import FindingStore
from shekara.reports import render_session_report

CATEGORIES = [c for c in Category if c is not Category.REMOTE_CONTROL]
COUNTRIES = ["CN", "RU", "DE", "US", "NL", "SG", "KZ"]


def _finding(i: int) -> Finding:
    country = COUNTRIES[i % len(COUNTRIES)]
    domestic = country == "KZ"
    return replace(
        BASE,
        detector="bench",
        legal_refs=("94-V Art. 16", "94-V Art. 12(2)"),
        observed_at=1_700_000_000.0 + i,
        recorded_at=1_700_000_000.0,
        flow_id=f"flow-{i // 4}",
        field=f"request.body:$.items[{i}].value",
        category=CATEGORIES[i % len(CATEGORIES)],
        value_hash=f"{i:064x}",
        destination=replace(
            BASE.destination,
            host=f"h{i % 997}.example.{country.lower()}",
            sni=None,
            city=None,
            country=country,
        ),
        verdict=Verdict.DOMESTIC if domestic else Verdict.CROSS_BORDER,
        violation=not domestic,
        rule_id="KZ-DOM-001" if domestic else "KZ-XB-001",
        severity="info" if domestic else "high",
    )


def _measure(work: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak MiB of Python allocations) of ``work``: timed untraced, then traced."""
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = FindingStore(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.create_schema()
        run_id = store.start_run("proxy")
        # Fonts, catalogs and templates are loaded once per process: not what is measured.
        for fmt in ("pdf", "html"):
            render_session_report(store, run_id, "kk", fmt)
        per_step = args.findings // args.steps
        written = 0
        print(
            f"{'findings':>9}  {'what':<12} {'report s':>9} {'MiB':>7}  "
            f"{'baseline s':>10} {'MiB':>7}  {'time ratio':>10} {'mem ratio':>9}"
        )
        for _ in range(args.steps):
            for start in range(written, written + per_step, 2000):
                end = min(start + 2000, written + per_step)
                store.add(run_id, [_finding(i) for i in range(start, end)])
            written += per_step

            def baseline() -> object:
                with store.engine.connect() as conn:
                    return conn.execute(
                        select(schema.findings).where(schema.findings.c.run_id == run_id)
                    ).all()

            base_s, base_mib = _measure(baseline)
            for fmt in ("pdf", "html"):
                report_s, report_mib = _measure(
                    lambda fmt=fmt: render_session_report(store, run_id, "kk", fmt)  # type: ignore[misc]
                )
                print(
                    f"{written:>9}  {fmt + ' report':<12} {report_s:>9.2f} {report_mib:>7.1f}  "
                    f"{base_s:>10.2f} {base_mib:>7.1f}  {report_s / base_s:>10.2f} "
                    f"{report_mib / base_mib:>9.2f}"
                )
        store.dispose()


if __name__ == "__main__":
    main()
