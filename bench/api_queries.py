"""Latency of the officials' API over a large SQLite store, next to plain SQL doing the same work.

Usage:
    python bench/api_queries.py [--findings 1000000] [--repeat 30] [--db PATH] [--no-export]

Fills a SQLite store (migrated to this version's schema, indexes included)
with ``--findings`` generated findings over 60 sessions of 6 vehicle models,
then times each query ``--repeat`` times through the API (FastAPI TestClient:
authentication, validation, the query, counting, serialisation) and the same
work as hand-written SQL on a plain ``sqlite3`` connection (the page query
and its count, or the GROUP BY), turn about. It prints p50 and p95 of both
and the ratio API/SQL, and checks the target: p95 < 100 ms for a filtered
page. The store is generated once and reused by ``--db PATH`` when it exists.
Always exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.cursor import encode_keyset
from shekara.api.settings import Settings
from shekara.audit.model import Category
from shekara.evidence import schema
from shekara.evidence.store import FindingStore

TARGET_P95_MS = 100.0
COUNTRIES = ["CN"] * 8 + ["DE"] * 3 + ["RU"] * 2 + ["US"] * 2 + ["KZ"] * 5
CATEGORIES = [c.value for c in Category]
MODELS = [
    ("Chery", "Tiggo 7"),
    ("Haval", "Jolion"),
    ("Lada", "Vesta"),
    ("Hyundai", "Tucson"),
    ("Geely", "Coolray"),
    ("Kia", "Sportage"),
]
T0 = 1_730_000_000.0


def generate(path: Path, n: int, seed: int = 7) -> None:
    store = FindingStore(f"sqlite:///{path}")
    store.create_schema()
    rng = random.Random(seed)
    hosts = {c: [f"h{i}.telematics.{c.lower()}" for i in range(40)] for c in set(COUNTRIES)}
    with store.engine.begin() as conn:
        vehicle_ids = []
        for i, (make, model) in enumerate(MODELS):
            vid = conn.execute(
                insert(schema.vehicles).values(
                    vin_hash=f"{i:064x}", vin_preview="XXX", make=make, model=model, created_at=T0
                )
            ).inserted_primary_key[0]
            vehicle_ids.append(vid)
        run_ids = []
        for i in range(60):
            rid = conn.execute(
                insert(schema.runs).values(
                    kind="proxy",
                    started_at=T0 + i * 86400,
                    status="completed",
                    flows_read=0,
                    chain_length=0,
                    vehicle_id=vehicle_ids[i % len(MODELS)],
                    firmware=f"{1 + i // 12}.{i % 12}",
                )
            ).inserted_primary_key[0]
            run_ids.append(rid)
    batch = 20_000
    start = time.perf_counter()
    for offset in range(0, n, batch):
        rows = []
        for i in range(offset, min(n, offset + batch)):
            run_idx = i * len(run_ids) // n
            country = rng.choice(COUNTRIES)
            host = rng.choice(hosts[country])
            violation = country != "KZ"
            digest = hashlib.sha256(str(i).encode()).hexdigest()
            rows.append(
                {
                    "run_id": run_ids[run_idx],
                    "flow_id": f"flow-{i // 3}",
                    "category": rng.choice(CATEGORIES),
                    "field": "request.body:$.data.value",
                    "source": "request.body",
                    "preview": "***",
                    "value_hash": digest,
                    "host": host,
                    "ip": f"203.0.{i % 250}.{i % 199}",
                    "port": 443,
                    "sni": host,
                    "country": country,
                    "city": None,
                    "asn": 4134,
                    "org": f"Org {country}",
                    "geo_source": "bench",
                    "geo_build": "bench",
                    "geo_confidence": "high",
                    "private": False,
                    "verdict": "cross_border" if violation else "domestic",
                    "violation": violation,
                    "rule_id": "KZ-XB-001" if violation else "KZ-DOM-001",
                    "severity": "high" if violation else "info",
                    "detector": "bench",
                    "confidence": "high",
                    "observed_at": T0 + run_idx * 86400 + (i % 50_000),
                    "recorded_at": T0,
                    "legal_refs": ["94-V 16"],
                    "seq": i + 1,
                    "prev_hash": None,
                    "record_hash": bytes.fromhex(digest),  # stored as 32 raw bytes
                    "dedup_key": digest,
                }
            )
        with store.engine.begin() as conn:
            conn.execute(insert(schema.findings), rows)
        done = min(n, offset + batch)
        if done % 200_000 == 0 or done == n:
            print(f"  generated {done} findings in {time.perf_counter() - start:.0f} s", flush=True)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.dispose()


# (name, API path, plain SQL statements doing the same work)
WHERE_CN_VIN = "violation = 1 AND country = 'CN' AND category = 'vin'"
# The page and its count, bounded at 10,000 matches as the API counts by default.
PAGE = (
    "SELECT * FROM findings WHERE {w} ORDER BY {o} LIMIT 101",
    "SELECT count(*) FROM (SELECT id FROM findings WHERE {w} LIMIT 10001)",
)


def queries(mid_id: int, since_iso: str, since_epoch: float) -> list[tuple[str, str, list[str]]]:
    def page(w: str, o: str = "id") -> list[str]:
        return [s.format(w=w, o=o) for s in PAGE]

    return [
        ("list: /violations first page", "/violations?limit=100", page("violation = 1")),
        (
            "list: /findings deep page (cursor)",
            f"/findings?limit=100&cursor=__CURSOR_{mid_id}__",
            [page(f"id > {mid_id}")[0], page("1 = 1")[1]],
        ),
        (
            "filter: country=CN&category=vin",
            "/violations?country=CN&category=vin&limit=100",
            page(WHERE_CN_VIN),
        ),
        (
            "filter: host",
            "/violations?host=h3.telematics.ru&limit=100",
            page("violation = 1 AND host = 'h3.telematics.ru'"),
        ),
        (
            "filter: time range, newest first",
            f"/findings?since={since_iso}&sort=-observed_at&limit=100",
            page(f"observed_at >= {since_epoch}", "observed_at DESC, id DESC"),
        ),
        (
            "filter: session + category",
            "/findings?session=30&category=location&limit=100",
            page("run_id = 30 AND category = 'location'"),
        ),
        (
            "aggregate: by country",
            "/aggregates?by=country",
            [
                "SELECT country, count(*) AS n, sum(violation), min(observed_at), "
                "max(observed_at) FROM findings GROUP BY country ORDER BY n DESC",
            ],
        ),
        (
            "aggregate: country x category (violations)",
            "/aggregates?by=country&by=category&violation=true",
            [
                "SELECT country, category, count(*) AS n, sum(violation), min(observed_at), "
                "max(observed_at) FROM findings WHERE violation = 1 "
                "GROUP BY country, category ORDER BY n DESC",
            ],
        ),
        (
            "aggregate: by day for one country",
            "/aggregates?by=day&country=DE",
            [
                "SELECT floor(observed_at / 86400) * 86400 AS d, count(*) AS n, sum(violation), "
                "min(observed_at), max(observed_at) FROM findings WHERE country = 'DE' "
                "GROUP BY d ORDER BY n DESC",
            ],
        ),
    ]


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def time_api(client: TestClient, url: str) -> float:
    t = time.perf_counter()
    client.get(url).raise_for_status()
    return (time.perf_counter() - t) * 1000


def time_sql(raw: sqlite3.Connection, statements: list[str]) -> float:
    t = time.perf_counter()
    for statement in statements:
        raw.execute(statement).fetchall()
    return (time.perf_counter() - t) * 1000


EXPORT_PROBE = """
import resource, sys, time, sqlite3
from pathlib import Path
from fastapi.testclient import TestClient
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore
path, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if mode == "api":
    store = FindingStore(f"sqlite:///{path}")
    settings = Settings(db_url="sqlite://", status_file=None, hashing_key_file=Path(path + ".k"))
    with TestClient(create_app(settings, store=store), headers={"X-API-Key": key}) as c:
        with c.stream("GET", "/findings/export?format=csv") as r:
            size = sum(len(chunk) for chunk in r.iter_bytes())
else:
    rows = sqlite3.connect(path).execute("SELECT * FROM findings ORDER BY id").fetchall()
    size = len(rows)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{time.perf_counter() - t:.1f} {(peak - before) / 1024:.0f} {peak / 1024:.0f} {size}")
"""


def export_probe(path: Path, key: str) -> None:
    """Peak memory of a full CSV export through the API vs loading the rows in one fetchall."""
    print("\nfull export (separate processes; peak RSS growth while it runs)")
    for mode, label in (("api", "API /findings/export?format=csv"), ("sql", "sqlite3 fetchall")):
        out = subprocess.run(
            [sys.executable, "-c", EXPORT_PROBE, str(path), key, mode],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seconds, grew, peak, size = out
        unit = "bytes streamed" if mode == "api" else "rows in memory"
        print(f"  {label:34} {seconds:>6} s  peak {peak:>5} MiB (+{grew}) ({size} {unit})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--no-export", action="store_true", help="skip the full-export probe")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="shekara-bench-")
    path = args.db or Path(tmp.name) / "bench.db"
    if not path.exists():
        print(f"generating {args.findings} findings into {path}", flush=True)
        generate(path, args.findings)
    store = FindingStore(f"sqlite:///{path}")
    store.create_schema()
    _, key = create_key(store.engine, "bench", "official")
    settings = Settings(db_url="sqlite://", status_file=None, hashing_key_file=Path(tmp.name) / "k")
    with TestClient(create_app(settings, store=store), headers={"X-API-Key": key}) as client:
        run(client, path, args.repeat)
    store.dispose()
    if not args.no_export:
        export_probe(path, key)


def run(client: TestClient, path: Path, repeat: int) -> None:
    raw = sqlite3.connect(path)
    raw.create_function("floor", 1, lambda x: float(int(x // 1)))
    (total,) = raw.execute("SELECT count(*) FROM findings").fetchone()
    mid_id = total // 2
    since_epoch = T0 + 50 * 86400
    since_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since_epoch))
    print(f"\n{total} findings in SQLite; {repeat} runs each (aggregates fewer), in turns\n")
    header = f"{'query':44} {'API p50':>8} {'p95':>8} {'SQL p50':>8} {'p95':>8} {'ratio p95':>9}"
    print(header)
    print("-" * len(header))
    filtered_p95 = []
    for name, url, sql in queries(mid_id, since_iso, since_epoch):
        url = url.replace(f"__CURSOR_{mid_id}__", encode_keyset("id", (mid_id,)))
        first = client.get(url)
        assert first.status_code == 200, (url, first.text)
        api_ms: list[float] = []
        sql_ms: list[float] = []
        # A GROUP BY over every row takes seconds on both sides: fewer turns suffice.
        turns = max(5, repeat // 4) if name.startswith("aggregate") else repeat
        for i in range(turns):
            if i % 2 == 0:
                api_ms.append(time_api(client, url))
                sql_ms.append(time_sql(raw, sql))
            else:
                sql_ms.append(time_sql(raw, sql))
                api_ms.append(time_api(client, url))
        a50, a95 = percentile(api_ms, 50), percentile(api_ms, 95)
        s50, s95 = percentile(sql_ms, 50), percentile(sql_ms, 95)
        if name.startswith("filter"):
            filtered_p95.append(a95)
        print(f"{name:44} {a50:8.1f} {a95:8.1f} {s50:8.1f} {s95:8.1f} {a95 / s95:9.2f}")
    worst = max(filtered_p95)
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(f"\nworst filtered-page p95 {worst:.1f} ms: target < {TARGET_P95_MS:.0f} ms {verdict}")
    print("(times in ms; the API's include authentication, validation, count and JSON;")
    print(" both count a page's matches up to 10,000, as the API does unless exact_count=true)")
    raw.close()


if __name__ == "__main__":
    main()
