"""A background thread that batches store writes, so the proxy's event loop never waits on disk.

Findings are queued in memory (bounded), committed every ``batch_size`` items
or ``max_delay`` seconds, whichever comes first. A failed write is logged at
error level with the number of findings lost and counted on the writer: the
car's traffic fails open, the evidence must not fail silently.

When the queue is full, ``submit`` blocks (back-pressure) up to its timeout,
then drops the submission loudly. Replay uses this writer: it has the capture
to read again, and per-flow fsyncs would halve its throughput.

The live proxy uses ``SpooledWriter`` instead: a submission is acknowledged
once it is fsynced in the on-disk spool (``shekara.evidence.spool``), and a
drain thread moves the spool into the store, releasing records only after the
store committed them. When the store is down it keeps spooling, retries with
backoff, says so once per change of state in the log and in a status file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shekara.audit.flowmeta import FlowMeta
from shekara.audit.model import Finding, Note
from shekara.evidence.connections import ConnectionRecord
from shekara.evidence.spool import Spool, SpoolRecord

log = logging.getLogger(__name__)


class FindingSink(Protocol):
    """What the writer needs of a store (FindingStore, or a fake in tests)."""

    def add(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note],
        connections: Sequence[ConnectionRecord] = (),
        *,
        flows: Sequence[FlowMeta] = (),
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class _Submission:
    run_id: int
    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]
    queued_at: float
    connections: tuple[ConnectionRecord, ...] = ()
    flows: tuple[FlowMeta, ...] = ()

    @property
    def size(self) -> int:
        return len(self.findings) + len(self.notes) + len(self.connections) + len(self.flows)


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of one writer, as a snapshot."""

    pending: int
    stored_findings: int
    stored_notes: int
    failed_findings: int
    failed_notes: int
    last_error: str | None


class WriterClosedError(RuntimeError):
    """A submission after ``close()``: it would never be written."""


class StoreWriter:
    """Queues findings and notes and writes them to a store from one background thread."""

    def __init__(
        self,
        store: FindingSink,
        *,
        batch_size: int = 500,
        max_delay: float = 1.0,
        max_pending: int = 50_000,
        submit_timeout: float = 5.0,
        name: str = "shekara-store-writer",
    ) -> None:
        if batch_size < 1 or max_pending < 1:
            raise ValueError("batch_size and max_pending must be at least 1")
        if max_delay <= 0 or submit_timeout < 0:
            raise ValueError("max_delay must be positive and submit_timeout not negative")
        self._store = store
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.max_pending = max_pending
        self.submit_timeout = submit_timeout
        self._cond = threading.Condition()
        self._queue: deque[_Submission] = deque()
        self._pending_items = 0
        # Submissions are numbered in order; flush waits until the worker has
        # handled every number given out before it was called.
        self._submitted = 0
        self._handled = 0
        self._flush_target = 0
        self._closing = False
        self.stored_findings = 0
        self.stored_notes = 0
        self.stored_connections = 0
        self.failed_findings = 0
        self.failed_notes = 0
        self.failed_connections = 0
        self.stored_flows = 0
        self.failed_flows = 0
        self.last_error: BaseException | None = None
        # Daemon, so a forgotten close() cannot hang interpreter exit; close() drains.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- caller side ----------------------------------------------------------

    @property
    def failed(self) -> int:
        """Findings that could not be stored (write errors and overflow drops)."""
        return self.failed_findings

    @property
    def pending(self) -> int:
        """Findings and notes queued but not yet handed to the store."""
        with self._cond:
            return self._pending_items

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                pending=self._pending_items,
                stored_findings=self.stored_findings,
                stored_notes=self.stored_notes,
                failed_findings=self.failed_findings,
                failed_notes=self.failed_notes,
                last_error=repr(self.last_error) if self.last_error is not None else None,
            )

    def submit(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note] = (),
        connections: Sequence[ConnectionRecord] = (),
        *,
        timeout: float | None = None,
        flows: Sequence[FlowMeta] = (),
    ) -> bool:
        """Queue a flow's findings, notes, connection records and metadata; False if dropped.

        Blocks up to ``timeout`` (default ``submit_timeout``) while the queue is
        full. A submission larger than the whole queue is admitted once the
        queue is empty, so no submission waits forever.
        """
        item = _Submission(
            run_id,
            tuple(findings),
            tuple(notes),
            time.monotonic(),
            tuple(connections),
            tuple(flows),
        )
        if item.size == 0:
            return True
        wait = self.submit_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                if self._closing:
                    raise WriterClosedError("the store writer is closed")
                full = (
                    self._pending_items > 0 and self._pending_items + item.size > self.max_pending
                )
                if not full:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.failed_findings += len(item.findings)
                    self.failed_notes += len(item.notes)
                    self.failed_connections += len(item.connections)
                    self.failed_flows += len(item.flows)
                    log.error(
                        "store queue full for %.1fs (%d items pending): dropped %d findings, "
                        "%d notes, %d connection records and %d flow records of run %d; "
                        "they are NOT stored",
                        wait,
                        self._pending_items,
                        len(item.findings),
                        len(item.notes),
                        len(item.connections),
                        len(item.flows),
                        run_id,
                    )
                    return False
                self._cond.wait(remaining)
            self._queue.append(item)
            self._pending_items += item.size
            self._submitted += 1
            self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything submitted so far now; True once it was handled within ``timeout``.

        Handled means committed or counted as failed: check ``failed`` / ``last_error``.
        """
        with self._cond:
            target = self._submitted
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._handled >= target, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued, stop the thread; True if it stopped within ``timeout``."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error(
                "store writer did not finish within %ss; %d findings and notes still queued",
                timeout,
                self.pending,
            )
            return False
        return True

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- worker side ----------------------------------------------------------

    def _next_batch(self) -> list[_Submission] | None:
        """Wait for a batch that is due; None when closing and drained."""
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            due = self._queue[0].queued_at + self.max_delay
            while (
                self._pending_items < self.batch_size
                and not self._closing
                and self._flush_target <= self._handled
            ):
                remaining = due - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch: list[_Submission] = []
            size = 0
            while self._queue and (not batch or size + self._queue[0].size <= self.batch_size):
                item = self._queue.popleft()
                batch.append(item)
                size += item.size
            self._pending_items -= size
            # Room was made: wake submitters blocked on a full queue.
            self._cond.notify_all()
            return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._write(batch)
            except Exception as exc:  # a bug here must not kill the thread that drains the queue
                self._record_failure(batch, exc)
            finally:
                with self._cond:
                    self._handled += len(batch)
                    self._cond.notify_all()

    def _write(self, batch: list[_Submission]) -> None:
        by_run: dict[int, list[_Submission]] = {}
        for item in batch:
            by_run.setdefault(item.run_id, []).append(item)
        for run_id, items in by_run.items():
            findings = [f for item in items for f in item.findings]
            notes = [n for item in items for n in item.notes]
            connections = [c for item in items for c in item.connections]
            flows = [m for item in items for m in item.flows]
            try:
                self._store.add(run_id, findings, notes, connections, flows=flows)
            except Exception as exc:
                if len(items) == 1:
                    self._record_failure(items, exc)
                    continue
                # One bad submission must not take its neighbours down: retry one by one.
                log.warning("batch write for run %d failed (%s); retrying one by one", run_id, exc)
                for item in items:
                    try:
                        self._store.add(
                            run_id, item.findings, item.notes, item.connections, flows=item.flows
                        )
                    except Exception as item_exc:
                        self._record_failure([item], item_exc)
                    else:
                        self._record_success([item])
            else:
                self._record_success(items)

    def _record_success(self, items: list[_Submission]) -> None:
        with self._cond:
            self.stored_findings += sum(len(i.findings) for i in items)
            self.stored_notes += sum(len(i.notes) for i in items)
            self.stored_connections += sum(len(i.connections) for i in items)
            self.stored_flows += sum(len(i.flows) for i in items)

    def _record_failure(self, items: list[_Submission], exc: BaseException) -> None:
        n_findings = sum(len(i.findings) for i in items)
        n_notes = sum(len(i.notes) for i in items)
        n_connections = sum(len(i.connections) for i in items)
        n_flows = sum(len(i.flows) for i in items)
        with self._cond:
            self.failed_findings += n_findings
            self.failed_notes += n_notes
            self.failed_connections += n_connections
            self.failed_flows += n_flows
            self.last_error = exc
        runs = sorted({i.run_id for i in items})
        log.error(
            "FAILED to store %d findings, %d notes, %d connection records and %d flow records "
            "of run(s) %s: %s",
            n_findings,
            n_notes,
            n_connections,
            n_flows,
            runs,
            exc,
            exc_info=exc,
        )


# -- the live proxy's writer: acknowledged = in the spool ------------------------

DEFAULT_STATUS_INTERVAL = 2.0
# How long the drain gathers spooled records before the next store transaction.
DEFAULT_LINGER = 0.05


def is_transient(exc: BaseException) -> bool:
    """True for a store failure that retrying can cure: database down, disk full, locked."""
    from sqlalchemy import exc as sa_exc

    from shekara.evidence.store import StoreError

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        (
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
            StoreError,
            OSError,
        ),
    )


def _describe(exc: BaseException) -> str:
    # The first line names the cause; SQLAlchemy appends the SQL and its parameters.
    text = str(getattr(exc, "orig", None) or exc)
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300]


@dataclass(slots=True)
class _Pending:
    run_id: int
    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]
    future: Future[bool] | asyncio.Future[bool]
    connections: tuple[ConnectionRecord, ...] = ()
    flows: tuple[FlowMeta, ...] = ()


# One event held in memory: run, findings, notes, connection records, flow metadata.
_Event = tuple[
    int,
    tuple[Finding, ...],
    tuple[Note, ...],
    tuple[ConnectionRecord, ...],
    tuple[FlowMeta, ...],
]


def _resolve_all(outcomes: list[tuple[asyncio.Future[bool], bool]]) -> None:
    for fut, ok in outcomes:
        if not fut.done():  # a cancelled waiter (its connection went away)
            fut.set_result(ok)


@dataclass(frozen=True, slots=True)
class SpooledWriterStats:
    """Counters of a spooled writer, as a snapshot (what the status file shows)."""

    store: str  # "ok" or "down"
    store_error: str | None
    store_down_since: float | None
    spool_records: int
    spool_bytes: int
    spool_max_bytes: int
    spool_error: str | None
    acknowledged_findings: int
    stored_findings: int
    stored_notes: int
    unacknowledged_findings: int
    unacknowledged_notes: int
    dropped_findings: int
    dropped_notes: int
    rejected_records: int
    corrupted_records: int
    stored_connections: int = 0
    unacknowledged_connections: int = 0
    dropped_connections: int = 0


class SpooledWriter:
    """Acknowledges findings once fsynced in the spool; a drain thread moves them to the store.

    Connection records take the same path: spooled with the findings of the
    event that ended the connection (or on their own), drained into the same
    run, kept once by their unique key however often a restart delivers them.

    ``acknowledge`` returns a future that resolves True when the event's
    findings, notes and connection records are durable, False when the spool refused them (full,
    or its disk failed): those are *not acknowledged*, logged at error level,
    counted, and still handed to the store from memory as long as a bounded
    overflow queue has room.
    """

    def __init__(
        self,
        store: FindingSink,
        spool: Spool,
        *,
        batch_size: int = 500,
        retry_initial: float = 0.2,
        retry_max: float = 10.0,
        max_overflow: int = 10_000,
        linger: float = DEFAULT_LINGER,
        status_path: str | Path | None = None,
        status_interval: float = DEFAULT_STATUS_INTERVAL,
        after_recovery: Callable[[], None] | None = None,
        name: str = "shekara-spool",
    ) -> None:
        if batch_size < 1 or max_overflow < 0:
            raise ValueError("batch_size must be at least 1 and max_overflow not negative")
        if retry_initial <= 0 or retry_max < retry_initial or status_interval <= 0:
            raise ValueError("retry delays and status interval must be positive")
        if linger < 0:
            raise ValueError("linger must not be negative")
        self._store = store
        self._spool = spool
        #: The spool, left open by ``close`` (its owner closes it).
        self.spool = spool
        self.batch_size = batch_size
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.max_overflow = max_overflow
        self.linger = linger
        self._last_delivery = 0.0
        self.status_path = Path(status_path) if status_path is not None else None
        self.status_interval = status_interval
        self._after_recovery = after_recovery
        # Records recovered at start; after_recovery runs once they are all released.
        self._recovered_through = spool.last_seq
        self._cond = threading.Condition()
        self._inbox: deque[_Pending] = deque()
        self._appending = False
        self._appender_done = False
        self._closing = False
        self._abandon = threading.Event()
        self._wake = threading.Event()
        self._overflow: deque[_Event] = deque()
        self._overflow_items = 0
        self._drained_gen = 0
        self._drain_done = False
        # Counters (under _cond).
        self.acknowledged_findings = 0
        self.stored_findings = 0
        self.stored_notes = 0
        self.unacknowledged_findings = 0
        self.unacknowledged_notes = 0
        self.dropped_findings = 0
        self.dropped_notes = 0
        self.stored_connections = 0
        self.unacknowledged_connections = 0
        self.dropped_connections = 0
        self.dropped_flows = 0
        self.rejected_records = 0
        self.store_error: str | None = None
        self.store_down_since: float | None = None
        self.spool_error: str | None = None
        self._last_overflow_log = 0.0
        self._overflow_since_log = 0
        self._last_status = 0.0
        self._appender = threading.Thread(
            target=self._append_loop, name=name + "-append", daemon=True
        )
        self._drainer = threading.Thread(target=self._drain_loop, name=name + "-drain", daemon=True)
        self._appender.start()
        self._drainer.start()

    # -- caller side ----------------------------------------------------------

    def acknowledge(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note] = (),
        connections: Sequence[ConnectionRecord] = (),
        *,
        flows: Sequence[FlowMeta] = (),
    ) -> Future[bool]:
        """Spool one event's findings, notes, connections and flow metadata; future: durable?"""
        fut: Future[bool] = Future()
        self._enqueue(
            _Pending(run_id, tuple(findings), tuple(notes), fut, tuple(connections), tuple(flows))
        )
        return fut

    def acknowledge_async(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note] = (),
        connections: Sequence[ConnectionRecord] = (),
        *,
        flows: Sequence[FlowMeta] = (),
    ) -> asyncio.Future[bool]:
        """``acknowledge`` for a caller on an event loop: one wake-up of the loop per batch.

        Each flow's own thread-safe future would cost the loop a wake-up per
        flow; the appender resolves a whole batch's futures in one call instead.
        """
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._enqueue(
            _Pending(run_id, tuple(findings), tuple(notes), fut, tuple(connections), tuple(flows))
        )
        return fut

    def _enqueue(self, item: _Pending) -> None:
        if not (item.findings or item.notes or item.connections or item.flows):
            item.future.set_result(True)
            return
        with self._cond:
            if self._closing:
                raise WriterClosedError("the spooled writer is closed")
            self._inbox.append(item)
            if len(self._inbox) == 1:  # else the appender is awake, or already woken
                self._cond.notify_all()

    def submit(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note] = (),
        connections: Sequence[ConnectionRecord] = (),
        *,
        timeout: float | None = None,
        flows: Sequence[FlowMeta] = (),
    ) -> bool:
        """Like ``acknowledge``, but waits: True once durable in the spool."""
        return self.acknowledge(run_id, findings, notes, connections, flows=flows).result(timeout)

    @property
    def pending(self) -> int:
        """Events queued for the spool or spooled and not yet committed to the store."""
        with self._cond:
            queued = len(self._inbox) + (1 if self._appending else 0)
        return queued + self._spool.pending + len(self._overflow)

    @property
    def failed(self) -> int:
        """Findings not acknowledged (spool full or failing), stored later or not."""
        return self.unacknowledged_findings

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed to the store (or timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._drain_done:
                    return self.pending == 0
                if (
                    not self._inbox
                    and not self._appending
                    and not self._overflow
                    and self._spool.pending == 0
                ):
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.5 if remaining is None else min(0.5, remaining))

    def close(self, timeout: float | None = 30.0) -> bool:
        """Spool what is queued, drain into the store for up to ``timeout``; True if all stored.

        Records the store could not take in time stay in the spool for the next start.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._appender.join()
        self._wake.set()
        self._drainer.join(timeout)
        if self._drainer.is_alive():
            self._abandon.set()
            self._wake.set()
            self._drainer.join()
        left = self._spool.pending
        if left:
            log.error(
                "%d spooled records are not in the store yet; they stay in %s and are "
                "delivered at the next start",
                left,
                self._spool.directory,
            )
        self._write_status(state="stopped")
        return left == 0 and not self._overflow

    def __enter__(self) -> SpooledWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def stats(self) -> SpooledWriterStats:
        spool = self._spool.stats()
        with self._cond:
            return SpooledWriterStats(
                store="down" if self.store_down_since is not None else "ok",
                store_error=self.store_error,
                store_down_since=self.store_down_since,
                spool_records=spool.pending_records,
                spool_bytes=spool.disk_bytes,
                spool_max_bytes=spool.max_bytes,
                spool_error=self.spool_error,
                acknowledged_findings=self.acknowledged_findings,
                stored_findings=self.stored_findings,
                stored_notes=self.stored_notes,
                unacknowledged_findings=self.unacknowledged_findings,
                unacknowledged_notes=self.unacknowledged_notes,
                dropped_findings=self.dropped_findings,
                dropped_notes=self.dropped_notes,
                rejected_records=self.rejected_records,
                corrupted_records=spool.corrupted,
                stored_connections=self.stored_connections,
                unacknowledged_connections=self.unacknowledged_connections,
                dropped_connections=self.dropped_connections,
            )

    # -- appender thread ------------------------------------------------------

    def _append_loop(self) -> None:
        while True:
            with self._cond:
                while not self._inbox and not self._closing:
                    self._cond.wait()
                if not self._inbox:
                    self._appender_done = True
                    self._cond.notify_all()
                    return
                items = list(self._inbox)
                self._inbox.clear()
                self._appending = True
            try:
                self._append(items)
            finally:
                with self._cond:
                    self._appending = False
                    self._cond.notify_all()
                self._wake.set()

    def _append(self, items: list[_Pending]) -> None:
        error: BaseException | None = None
        try:
            seqs = self._spool.append_many(
                [(i.run_id, i.findings, i.notes, i.connections, i.flows) for i in items]
            )
        except Exception as exc:  # disk full, I/O error: nothing of this batch is durable
            error = exc
            seqs = [None] * len(items)
        with self._cond:
            was_failing = self.spool_error is not None
            self.spool_error = _describe(error) if error is not None else None
        if error is not None and not was_failing:
            log.error("cannot write to the spool %s: %s", self._spool.directory, error)
        elif error is None and was_failing:
            log.warning("the spool %s is writable again", self._spool.directory)
        on_loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool]]] = {}
        for item, seq in zip(items, seqs, strict=True):
            if seq is None:
                self._not_acknowledged(item, "spool full" if error is None else "spool failing")
            else:
                with self._cond:
                    self.acknowledged_findings += len(item.findings)
            fut = item.future
            if isinstance(fut, asyncio.Future):
                on_loops.setdefault(fut.get_loop(), []).append((fut, seq is not None))
            else:
                fut.set_result(seq is not None)
        for loop, outcomes in on_loops.items():
            # A closed loop raises RuntimeError: nobody waits there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve_all, outcomes)

    def _not_acknowledged(self, item: _Pending, why: str) -> None:
        n = len(item.findings) + len(item.notes) + len(item.connections) + len(item.flows)
        now = time.monotonic()
        with self._cond:
            self.unacknowledged_findings += len(item.findings)
            self.unacknowledged_notes += len(item.notes)
            self.unacknowledged_connections += len(item.connections)
            kept = self._overflow_items + n <= self.max_overflow
            if kept:
                self._overflow.append(
                    (item.run_id, item.findings, item.notes, item.connections, item.flows)
                )
                self._overflow_items += n
            else:
                self.dropped_findings += len(item.findings)
                self.dropped_notes += len(item.notes)
                self.dropped_connections += len(item.connections)
                self.dropped_flows += len(item.flows)
            self._overflow_since_log += len(item.findings)
            due = now - self._last_overflow_log >= 10.0
            if due:
                self._last_overflow_log = now
                count, self._overflow_since_log = self._overflow_since_log, 0
                total, dropped = self.unacknowledged_findings, self.dropped_findings
        if due:
            log.error(
                "%s (%s): %d findings NOT acknowledged since the last report "
                "(%d in all, %d of them lost for good); the traffic keeps flowing",
                why,
                self._spool.directory,
                count,
                total,
                dropped,
            )

    # -- drain thread ------------------------------------------------------------

    def _drain_loop(self) -> None:
        batch: list[SpoolRecord] = []
        extra: list[_Event] = []
        delay = self.retry_initial
        try:
            while not self._abandon.is_set():
                self._wake.clear()
                with self._cond:
                    # Decided before reading: once the appender is done, an empty read is final.
                    finished = self._closing and self._appender_done
                if not batch:
                    if not finished:
                        # Findings are already durable in the spool: gathering what
                        # arrives over a few milliseconds into one transaction saves the
                        # per-commit work (run lock, chain head, fsync) that would
                        # otherwise compete with the traffic for the CPU.
                        rest = self._last_delivery + self.linger - time.monotonic()
                        if rest > 0:
                            self._abandon.wait(rest)
                    batch = self._spool.read(self.batch_size)
                if not extra:
                    extra = self._take_overflow()
                if not batch and not extra:
                    self._maybe_after_recovery(idle=True)
                    if finished:
                        return
                    self._status_if_due()
                    self._wake.wait(self.status_interval)
                    continue
                try:
                    self._deliver(batch, extra)
                except Exception as exc:
                    self._store_down(exc)
                    self._status_if_due(force=True)
                    self._abandon.wait(delay)
                    delay = min(delay * 2, self.retry_max)
                    continue
                delay = self.retry_initial
                self._last_delivery = time.monotonic()
                if batch:
                    self._spool.release(batch[-1].seq)
                with self._cond:
                    self.stored_findings += sum(len(r.findings) for r in batch)
                    self.stored_findings += sum(len(e[1]) for e in extra)
                    self.stored_notes += sum(len(r.notes) for r in batch)
                    self.stored_notes += sum(len(e[2]) for e in extra)
                    self.stored_connections += sum(len(r.connections) for r in batch)
                    self.stored_connections += sum(len(e[3]) for e in extra)
                    self._cond.notify_all()
                batch, extra = [], []
                self._store_up()
                self._maybe_after_recovery(idle=False)
                self._status_if_due()
        finally:
            if extra:
                n_f = sum(len(e[1]) for e in extra)
                n_c = sum(len(e[3]) for e in extra)
                with self._cond:
                    self.dropped_findings += n_f
                    self.dropped_notes += sum(len(e[2]) for e in extra)
                    self.dropped_connections += n_c
                    self.dropped_flows += sum(len(e[4]) for e in extra)
                log.error(
                    "%d unacknowledged findings and %d connection records could not be stored "
                    "before exit",
                    n_f,
                    n_c,
                )
            with self._cond:
                self._drain_done = True
                self._cond.notify_all()

    def _take_overflow(self) -> list[_Event]:
        with self._cond:
            out = list(self._overflow)
            self._overflow.clear()
            self._overflow_items = 0
        return out

    def _maybe_after_recovery(self, *, idle: bool) -> None:
        """Run ``after_recovery`` once every record recovered at start has been delivered."""
        if self._after_recovery is None:
            return
        if not idle and self._spool.stats().released_seq < self._recovered_through:
            return
        callback, self._after_recovery = self._after_recovery, None
        try:
            callback()
        except Exception as exc:
            if is_transient(exc):
                self._after_recovery = callback  # again once the store answers
            else:
                log.error("the after-recovery step failed: %s", exc, exc_info=exc)

    def _deliver(self, batch: list[SpoolRecord], extra: list[_Event]) -> None:
        """Commit a batch; a record the store refuses for good is quarantined, not retried."""
        by_run: dict[
            int, tuple[list[Finding], list[Note], list[ConnectionRecord], list[FlowMeta]]
        ] = {}
        for rec in batch:
            fs, ns, cs, ms = by_run.setdefault(rec.run_id, ([], [], [], []))
            fs.extend(rec.findings)
            ns.extend(rec.notes)
            cs.extend(rec.connections)
            ms.extend(rec.flows)
        for run_id, fs_, ns_, cs_, ms_ in extra:
            fs, ns, cs, ms = by_run.setdefault(run_id, ([], [], [], []))
            fs.extend(fs_)
            ns.extend(ns_)
            cs.extend(cs_)
            ms.extend(ms_)
        try:
            for run_id, (fs, ns, cs, ms) in by_run.items():
                self._store.add(run_id, fs, ns, cs, flows=ms)
            return
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("a batch was refused by the store (%s); retrying record by record", exc)
        # Every record again on its own: the store skips what it already holds.
        for rec in batch:
            try:
                self._store.add(
                    rec.run_id, rec.findings, rec.notes, rec.connections, flows=rec.flows
                )
            except Exception as exc:
                if is_transient(exc):
                    raise
                self._spool.quarantine(rec, _describe(exc))
                with self._cond:
                    self.rejected_records += 1
        for run_id, fs_, ns_, cs_, ms_ in extra:
            try:
                self._store.add(run_id, fs_, ns_, cs_, flows=ms_)
            except Exception as exc:
                if is_transient(exc):
                    raise
                with self._cond:
                    self.dropped_findings += len(fs_)
                    self.dropped_notes += len(ns_)
                    self.dropped_connections += len(cs_)
                    self.dropped_flows += len(ms_)
                log.error(
                    "%d unacknowledged findings and %d connection records refused by the store: %s",
                    len(fs_),
                    len(cs_),
                    exc,
                )

    def _store_down(self, exc: BaseException) -> None:
        text = _describe(exc)
        with self._cond:
            first = self.store_down_since is None
            if first:
                self.store_down_since = time.time()
            self.store_error = text
        if first:
            log.error(
                "the findings store is unavailable (%s); spooling findings to %s "
                "and retrying (%d records spooled)",
                text,
                self._spool.directory,
                self._spool.pending,
            )

    def _store_up(self) -> None:
        with self._cond:
            since = self.store_down_since
            self.store_down_since = None
            self.store_error = None
        if since is not None:
            log.warning(
                "the findings store is back after %.1fs; draining the spool (%d records)",
                time.time() - since,
                self._spool.pending,
            )
            self._status_if_due(force=True)

    # -- status file ---------------------------------------------------------------

    def _status_if_due(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_status >= self.status_interval:
            self._last_status = now
            self._write_status()

    def _write_status(self, state: str = "running") -> None:
        if self.status_path is None:
            return
        s = self.stats()
        doc = {
            "state": state,
            "pid": os.getpid(),
            "updated_at": time.time(),
            "store": s.store,
            "store_error": s.store_error,
            "store_down_since": s.store_down_since,
            "spool_records": s.spool_records,
            "spool_bytes": s.spool_bytes,
            "spool_max_bytes": s.spool_max_bytes,
            "spool_full": s.spool_bytes >= s.spool_max_bytes * 0.99,
            "spool_error": s.spool_error,
            "unacknowledged_findings": s.unacknowledged_findings,
            "dropped_findings": s.dropped_findings,
            "stored_connections": s.stored_connections,
            "unacknowledged_connections": s.unacknowledged_connections,
            "dropped_connections": s.dropped_connections,
            "rejected_records": s.rejected_records,
            "corrupted_records": s.corrupted_records,
        }
        try:
            self.status_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_path.with_name(self.status_path.name + ".tmp")
            tmp.write_text(json.dumps(doc, indent=1) + "\n")
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.warning("cannot write the status file %s: %s", self.status_path, exc)
