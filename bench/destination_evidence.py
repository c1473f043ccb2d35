"""What the geolocation evidence costs a ``/destinations`` page, next to the page without it.

Usage:
    python bench/destination_evidence.py [--sessions 60] [--servers 2000] [--repeat 30]

Fills a SQLite store with ``--sessions`` sessions that each sent findings to
``--servers`` servers and recorded their geolocation evidence (one
``destinations`` row per session and server, with the evidence items the geo
stage writes), then times, turn about, a page of 100 destinations as the list
computed it before (the findings aggregate, its categories and count) and as
it does now (the same, plus the latest evidence of each row and its public
form). Prints p50 and p95 of both and the ratio. Always exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from shekara.api import geoevidence, queries
from shekara.api.filters import FindingFilter
from shekara.evidence import schema
from shekara.evidence.rows import dedup_key
from shekara.evidence.store import FindingStore

T0 = 1_730_000_000.0
PAGE = 100


def _evidence(host: str, ip: str, country: str, confidence: str) -> list[dict[str, object]]:
    return [
        {"kind": "name", "name": host, "how": "flow-host", "chain": []},
        {"kind": "name", "name": host, "how": "device-dns", "chain": [host, f"edge.{host}"]},
        {"kind": "ptr", "names": [f"ptr.{host}"]},
        {"kind": "mmdb", "source": "db-a", "build": "2026-11-01", "country": country},
        {"kind": "mmdb", "source": "db-b", "build": "2026-10-01", "country": country},
        {"kind": "asn", "source": "asn", "build": "2026-11-01", "asn": 4134, "org": "Org"},
        {"kind": "rtt", "rtt_ms": 71.2, "outcome": "consistent", "claimed_country": country},
        {"kind": "consensus", "outcome": "agreed", "country": country, "candidates": [country]},
    ]


def generate(path: Path, sessions: int, servers: int, seed: int = 7) -> None:
    store = FindingStore(f"sqlite:///{path}")
    store.create_schema()
    rng = random.Random(seed)
    with store.engine.begin() as conn:
        runs = [
            conn.execute(
                insert(schema.runs).values(
                    kind="proxy",
                    started_at=T0 + i * 86400,
                    status="completed",
                    flows_read=0,
                    chain_length=0,
                )
            ).inserted_primary_key[0]
            for i in range(sessions)
        ]
    for n, run in enumerate(runs):
        findings, dests = [], []
        for s in range(servers):
            host, ip = f"h{s}.telematics.cn", f"203.0.{s // 250}.{s % 250}"
            confidence = rng.choice(["high", "high", "medium", "low"])
            at = T0 + n * 86400 + s
            digest = hashlib.sha256(f"{run}/{s}".encode()).hexdigest()
            findings.append(
                {
                    "run_id": run,
                    "flow_id": f"f{s}",
                    "category": rng.choice(["vin", "location", "phone"]),
                    "field": "request.body:$.v",
                    "source": "request.body",
                    "preview": "***",
                    "value_hash": digest,
                    "host": host,
                    "ip": ip,
                    "port": 443,
                    "country": "CN",
                    "asn": 4134,
                    "org": "Org",
                    "geo_confidence": confidence,
                    "private": False,
                    "verdict": "cross_border",
                    "violation": True,
                    "rule_id": "KZ-XB-001",
                    "severity": "high",
                    "detector": "bench",
                    "confidence": "high",
                    "observed_at": at,
                    "recorded_at": at,
                    "legal_refs": [],
                    "seq": s + 1,
                    "record_hash": bytes.fromhex(digest),
                    "dedup_key": digest,
                }
            )
            dests.append(
                {
                    "run_id": run,
                    "dest_key": dedup_key(host, ip),
                    "host": host,
                    "ip": ip,
                    "country": "CN",
                    "asn": 4134,
                    "org": "Org",
                    "private": False,
                    "disputed": False,
                    "confidence": confidence,
                    "verdict": "cross_border",
                    "sources": json.dumps(_evidence(host, ip, "CN", confidence)[3:5]),
                    "evidence": json.dumps(_evidence(host, ip, "CN", confidence)),
                    "first_seen": at,
                    "last_seen": at,
                }
            )
        with store.engine.begin() as conn:
            conn.execute(insert(schema.findings), findings)
            conn.execute(insert(schema.destinations), dests)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.dispose()


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def before(store: FindingStore, flt: FindingFilter) -> int:
    rows = queries.destination_page(store.engine, flt, None, PAGE + 1)[:PAGE]
    queries.destination_categories(store.engine, flt, [r["host_key"] for r in rows])
    return queries.count_destinations(store.engine, flt) + len(rows)


def after(store: FindingStore, flt: FindingFilter) -> int:
    rows = queries.destination_page(store.engine, flt, None, PAGE + 1)[:PAGE]
    queries.destination_categories(store.engine, flt, [r["host_key"] for r in rows])
    pairs = [(r["host_key"], r["ip_key"]) for r in rows]
    evidence = geoevidence.latest(store.engine, pairs, flt.sessions, flt.geo_confidence)
    shown = [geoevidence.geolocation(e) for e in evidence.values()]
    return queries.count_destinations(store.engine, flt) + len(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--servers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        start = time.perf_counter()
        generate(path, args.sessions, args.servers)
        rows = args.sessions * args.servers
        print(f"{rows} findings and destination rows in {time.perf_counter() - start:.0f} s")
        store = FindingStore(f"sqlite:///{path}")
        cases = {
            "all sessions": FindingFilter(),
            "one session": FindingFilter(sessions=(args.sessions // 2,)),
            "confidence=low": FindingFilter(geo_confidence="low"),
        }
        head = ("page of 100", "before p50", "p95", "now p50", "p95", "ratio")
        print("{:<18}{:>12}{:>9}{:>11}{:>9}{:>8}".format(*head))
        for name, flt in cases.items():
            base: list[float] = []
            now: list[float] = []
            for _ in range(args.repeat):
                for fn, out in ((before, base), (after, now)):
                    t = time.perf_counter()
                    fn(store, flt)
                    out.append((time.perf_counter() - t) * 1000)
            b50, b95 = percentile(base, 0.5), percentile(base, 0.95)
            n50, n95 = percentile(now, 0.5), percentile(now, 0.95)
            ratio = n50 / b50
            print(f"{name:<18}{b50:>10.1f}ms{b95:>7.1f}ms{n50:>9.1f}ms{n95:>7.1f}ms{ratio:>8.2f}")
        store.dispose()


if __name__ == "__main__":
    main()
