"""Prometheus metrics read from the store and the station's status, for ``GET /metrics``.

The store is the truth that every station writes to, so the numbers are read
from it at scrape time (cached for ``ttl`` seconds: a GROUP BY over millions
of findings is not free), not counted inside one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from shekara.evidence import schema
from shekara.evidence.store import FindingStore


class StoreCollector(Collector):
    """Flows analysed, findings by category and country, notes, sessions, station queue."""

    def __init__(
        self, store: FindingStore, status_file: Path | None, stale_after: float, ttl: float
    ) -> None:
        self.store = store
        self.status_file = status_file
        self.stale_after = stale_after
        self.ttl = ttl
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        f, r = schema.findings.c, schema.runs.c
        with self.store.engine.connect() as conn:
            findings = conn.execute(
                select(f.category, f.country, f.violation, func.count()).group_by(
                    f.category, f.country, f.violation
                )
            ).all()
            runs = conn.execute(
                select(r.status, func.count(), func.coalesce(func.sum(r.flows_read), 0)).group_by(
                    r.status
                )
            ).all()
            notes = conn.execute(select(func.count()).select_from(schema.notes)).scalar_one()
        return {"findings": findings, "runs": runs, "notes": int(notes)}

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.ttl:
                self._cached = (now, self._read())
            return self._cached[1]

    def describe(self) -> Iterator[Metric]:
        # Nothing to describe ahead: registering must not query the store.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        from shekara.api.routes.health import read_station_status

        data = self._snapshot()
        flows = CounterMetricFamily(
            "shekara_flows_analysed", "Flows read by the sessions in the store"
        )
        flows.add_metric([], float(sum(int(row[2]) for row in data["runs"])))
        yield flows
        sessions = GaugeMetricFamily(
            "shekara_sessions", "Sessions in the store by status", labels=["status"]
        )
        for status, count, _ in data["runs"]:
            sessions.add_metric([status], float(count))
        yield sessions
        found = CounterMetricFamily(
            "shekara_findings",
            "Findings stored, by category, destination country and violation",
            labels=["category", "country", "violation"],
        )
        for category, country, violation, count in data["findings"]:
            found.add_metric(
                [category, country or "unknown", "true" if violation else "false"], float(count)
            )
        yield found
        notes = CounterMetricFamily(
            "shekara_undecodable_payloads", "Parts of flows that could not be read (notes)"
        )
        notes.add_metric([], float(data["notes"]))
        yield notes
        station = read_station_status(self.status_file, self.stale_after)
        if station is not None:
            queue = GaugeMetricFamily(
                "shekara_station_spool_records",
                "Findings in the station's spool not yet in the store (queue depth)",
            )
            queue.add_metric([], float(station.spool_records))
            yield queue
            dropped = GaugeMetricFamily(
                "shekara_station_unacknowledged_findings",
                "Findings the station could not acknowledge (spool full or failing)",
            )
            dropped.add_metric([], float(station.unacknowledged_findings))
            yield dropped
            problems = GaugeMetricFamily(
                "shekara_station_problems", "Problems the station reports (0 when well)"
            )
            problems.add_metric([], float(len(station.problems)))
            yield problems


def build_registry(
    store: FindingStore, status_file: Path | None, stale_after: float, ttl: float = 15.0
) -> tuple[CollectorRegistry, Counter]:
    """A registry of this app's metrics, and the counter of requests that failed in the API."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, status_file, stale_after, ttl))
    errors = Counter(
        "shekara_api_errors",
        "Requests the API answered with a server error, by cause",
        ["cause"],
        registry=registry,
    )
    return registry, errors
