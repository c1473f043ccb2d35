"""Findings/s written through the store with the hash chain, next to the same inserts without.

Usage:
    python bench/store_chain.py [--findings 20000] [--batch 500] [--rounds 3] [--pg URL]

For each back end (SQLite file; PostgreSQL when ``--pg`` or
``SHEKARA_TEST_PG_URL`` names a server on which a scratch database may be
created) the same synthetic findings are written in batches of ``--batch``:

- chained: ``FindingStore.add`` (locks the run, drops repeats, numbers and
  hashes every finding, inserts, moves the run's head), one transaction a batch;
- plain: ``FindingStore.add`` without the chain: the store's insert before
  the chain existed (the same rows with one duplicate-skipping
  ``executemany``) and the same upsert of the batch's destinations, one
  transaction a batch.

Each round writes every batch both ways, in turns (chained then plain, then
plain then chained, …), into two fresh runs, so a machine busy with other
work slows both sides alike; the rates over all rounds and their ratio
chained/plain are reported (target >= 0.8), with each round's.
Afterwards every chained run is verified with ``shekara.evidence.verify``.
The script always exits 0 and prints whether the target was met.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from synthetic import BASE

from shekara.audit.model import Category, Finding
from shekara.evidence import schema, verify
from shekara.evidence.rows import destination_rows, finding_to_row
from shekara.evidence.store import FindingStore, normalise_url

TARGET_RATIO = 0.8


def synthetic_findings(n: int, seed: int = 1) -> list[Finding]:
    """n distinct findings, a few per flow, as a busy session produces them."""
    rng = random.Random(seed)
    categories = list(Category)
    return [
        replace(
            BASE,
            flow_id=f"flow-{i // 4}",
            category=categories[i % len(categories)],
            field=f"request.body:$.telemetry[{i % 4}].value",
            value_hash=f"{rng.getrandbits(256):064x}",
            observed_at=1_700_000_000 + i * 0.01,
            recorded_at=1_700_000_000 + i * 0.01 + 0.2,
        )
        for i in range(n)
    ]


def batches(items: Sequence[Finding], size: int) -> Iterator[Sequence[Finding]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def chained_writer(store: FindingStore) -> Callable[[Sequence[Finding]], None]:
    run_id = store.start_run("proxy")

    def write(chunk: Sequence[Finding]) -> None:
        store.add(run_id, chunk, [])

    write.run_id = run_id  # type: ignore[attr-defined]
    return write


def plain_writer(store: FindingStore) -> Callable[[Sequence[Finding]], None]:
    # The store's add() minus the chain: its insert as it was before the chain (one
    # duplicate-skipping executemany) and the destinations upsert add() also does,
    # which is no part of the chain and so belongs on both sides.
    run_id = store.start_run("proxy")
    insert = store._insert_ignoring_duplicates(schema.findings)

    def write(chunk: Sequence[Finding]) -> None:
        rows = [finding_to_row(run_id, f) for f in chunk]
        dest_rows = destination_rows(run_id, chunk, [])
        with store.engine.begin() as conn:
            conn.execute(insert, rows)
            if dest_rows:
                store._upsert_destinations(conn, dest_rows)

    return write


def interleaved_round(
    store: FindingStore, findings: Sequence[Finding], batch: int, flip: bool
) -> tuple[float, float, int]:
    """Seconds spent chained and plain on the same batches, taken in turns; the chained run."""
    chained, plain = chained_writer(store), plain_writer(store)
    spent = {"chained": 0.0, "plain": 0.0}
    for i, chunk in enumerate(batches(findings, batch)):
        order = [("chained", chained), ("plain", plain)]
        if (i % 2 == 0) == flip:
            order.reverse()
        for name, write in order:
            start = time.perf_counter()
            write(chunk)
            spent[name] += time.perf_counter() - start
    return spent["chained"], spent["plain"], chained.run_id  # type: ignore[attr-defined]


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="shekara-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def pg_url(admin_url: str) -> Iterator[str]:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"shekara_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(url: str, label: str, findings: list[Finding], batch: int, rounds: int) -> float:
    store = FindingStore(url)
    store.create_schema()
    # Warm-up: connections, statement caches, the first pages of each table.
    interleaved_round(store, findings[: batch * 4], batch, False)
    chained: list[float] = []
    plain: list[float] = []
    chained_runs: list[int] = []
    for r in range(rounds):
        c, p, run_id = interleaved_round(store, findings, batch, r % 2 == 1)
        chained.append(c)
        plain.append(p)
        chained_runs.append(run_id)
    n = len(findings)
    ratio = sum(plain) / sum(chained)
    start = time.perf_counter()
    reports = [verify.verify_store(store, run_id)[0] for run_id in chained_runs]
    verify_rate = n * len(chained_runs) / (time.perf_counter() - start)
    store.dispose()
    bad = [r.describe() for r in reports if not r.ok]
    print(f"{label}: {n} findings a round in batches of {batch}, {rounds} rounds")
    for name, times in (("plain inserts", plain), ("hash-chained", chained)):
        print(
            f"  {name:<14} {n * len(times) / sum(times):>8,.0f} findings/s overall, "
            f"best round {n / min(times):>8,.0f}  (rounds: {_rates(n, times)})"
        )
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    per_round = ", ".join(f"{p / c:.2f}" for c, p in zip(chained, plain, strict=True))
    print(
        f"  ratio chained/plain: {ratio:.2f} (target >= {TARGET_RATIO}: {verdict}; "
        f"per round: {per_round})"
    )
    print(
        f"  verify: {len(reports) - len(bad)}/{len(reports)} chained runs OK, "
        f"{verify_rate:,.0f} findings/s recomputed"
    )
    for line in bad:
        print(f"  {line}")
    return ratio


def _rates(n: int, seconds: list[float]) -> str:
    return ", ".join(f"{n / s:,.0f}" for s in seconds)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--findings", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--pg",
        default=os.environ.get("SHEKARA_TEST_PG_URL"),
        help="PostgreSQL server URL to create a scratch database on "
        "(default: SHEKARA_TEST_PG_URL; none: SQLite only)",
    )
    args = p.parse_args()
    findings = synthetic_findings(args.findings)
    with sqlite_url() as url:
        bench(url, "SQLite (WAL, synchronous=FULL)", findings, args.batch, args.rounds)
    if args.pg:
        with pg_url(args.pg) as url:
            where = make_url(url).render_as_string(hide_password=True)
            bench(url, f"PostgreSQL ({where})", findings, args.batch, args.rounds)
    else:
        print("PostgreSQL: skipped (give --pg URL or set SHEKARA_TEST_PG_URL)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
