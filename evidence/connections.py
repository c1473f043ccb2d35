"""Per-connection traffic records and the background log that stores them.

Findings say *what* left the country; connection records say how much went
where and whether the proxy could read it. A pinned telematics unit shows up
here as bytes to a foreign host of undetermined content, which is what keeps
"nothing found" from reading as "nothing sent". The records are metadata only
(addresses, byte counts, TLS fingerprints), so they are written from memory in
batches; the durable path of the findings themselves is the spool.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

READ = "read"
UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """One connection as the proxy saw it; ``content`` is "read" or "undetermined"."""

    flow_id: str
    transport: str
    content: str
    started_at: float
    ended_at: float | None = None
    reason: str | None = None
    client_ip: str | None = None
    client_mac: str | None = None
    client_name: str | None = None
    host: str | None = None
    sni: str | None = None
    ip: str | None = None
    port: int | None = None
    country: str | None = None
    geo_confidence: str | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    alpn: str | None = None
    ja3: str | None = None
    ja3_md5: str | None = None
    ja4: str | None = None

    def to_row(self, run_id: int) -> dict[str, Any]:
        row = asdict(self)
        row["run_id"] = run_id
        if row["host"]:
            row["host"] = row["host"].lower()
        if row["country"]:
            row["country"] = row["country"].upper()
        return row


@dataclass(frozen=True, slots=True)
class Coverage:
    """Share of a run's bytes whose content the proxy could read."""

    host: str | None
    bytes_total: int
    bytes_read: int
    connections: int
    undetermined_connections: int

    @property
    def share_read(self) -> float | None:
        """None when no byte was seen: unknown coverage is not full coverage."""
        return self.bytes_read / self.bytes_total if self.bytes_total else None


class ConnectionSink(Protocol):
    def add_connections(self, run_id: int, records: Sequence[ConnectionRecord]) -> None: ...


class ConnectionLog:
    """Queues connection records and writes them in batches from one thread.

    Live, ``add`` never blocks the proxy: a full queue drops the record,
    counted and logged. A replay (``wait=True``) has no device to keep
    waiting, so it waits for room instead: a capture read faster than the
    store writes must not lose the bytes its coverage is made of. A failing
    store is logged with the number of records lost.
    """

    def __init__(
        self,
        sink: ConnectionSink,
        run_id: int,
        max_pending: int = 50_000,
        batch: int = 500,
        wait: bool = False,
    ) -> None:
        self.sink = sink
        self.run_id = run_id
        self.batch = batch
        self.wait = wait
        self.dropped = 0
        self.stored = 0
        self._queue: queue.Queue[ConnectionRecord | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="shekara-connections", daemon=True)
        self._thread.start()

    def add(self, record: ConnectionRecord) -> None:
        try:
            self._queue.put(record, block=self.wait and self._thread.is_alive())
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.error("connection log full: %d records dropped", self.dropped)

    def flush(self, timeout: float = 10.0) -> None:
        """Waits (bounded) until everything queued so far is written or given up."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stores what is queued; live within ``timeout``, a replay for as long as it takes."""
        if not self._thread.is_alive():
            return  # closed before
        self._queue.put(None)
        self._thread.join(None if self.wait else timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            items: list[ConnectionRecord | None] = [first]
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [r for r in items if r is not None]
            if records:
                try:
                    self.sink.add_connections(self.run_id, records)
                    self.stored += len(records)
                except Exception:
                    self.dropped += len(records)
                    log.exception("%d connection records NOT stored", len(records))
            for _ in items:
                self._queue.task_done()
            if any(r is None for r in items):
                return
