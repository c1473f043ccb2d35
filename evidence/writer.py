"""A background thread that batches store writes, so the proxy's event loop never waits on disk.

Findings are queued in memory (bounded), committed every ``batch_size`` items
or ``max_delay`` seconds, whichever comes first. A failed write is logged at
error level with the number of findings lost and counted on the writer: the
car's traffic fails open, the evidence must not fail silently.

When the queue is full, ``submit`` blocks (back-pressure) up to its timeout,
then drops the submission loudly. An on-disk spool that keeps such overflow
for a later retry is planned, not built.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shekara.audit.model import Finding, Note

log = logging.getLogger(__name__)


class FindingSink(Protocol):
    """What the writer needs of a store (FindingStore, or a fake in tests)."""

    def add(self, run_id: int, findings: Sequence[Finding], notes: Sequence[Note]) -> None: ...


@dataclass(frozen=True, slots=True)
class _Submission:
    run_id: int
    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]
    queued_at: float

    @property
    def size(self) -> int:
        return len(self.findings) + len(self.notes)


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
        self.failed_findings = 0
        self.failed_notes = 0
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
        *,
        timeout: float | None = None,
    ) -> bool:
        """Queue a flow's findings and notes; False if the queue stayed full (dropped, logged).

        Blocks up to ``timeout`` (default ``submit_timeout``) while the queue is
        full. A submission larger than the whole queue is admitted once the
        queue is empty, so no submission waits forever.
        """
        item = _Submission(run_id, tuple(findings), tuple(notes), time.monotonic())
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
                    log.error(
                        "store queue full for %.1fs (%d items pending): dropped %d findings "
                        "and %d notes of run %d; they are NOT stored",
                        wait,
                        self._pending_items,
                        len(item.findings),
                        len(item.notes),
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
            try:
                self._store.add(run_id, findings, notes)
            except Exception as exc:
                if len(items) == 1:
                    self._record_failure(items, exc)
                    continue
                # One bad submission must not take its neighbours down: retry one by one.
                log.warning("batch write for run %d failed (%s); retrying one by one", run_id, exc)
                for item in items:
                    try:
                        self._store.add(run_id, item.findings, item.notes)
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

    def _record_failure(self, items: list[_Submission], exc: BaseException) -> None:
        n_findings = sum(len(i.findings) for i in items)
        n_notes = sum(len(i.notes) for i in items)
        with self._cond:
            self.failed_findings += n_findings
            self.failed_notes += n_notes
            self.last_error = exc
        runs = sorted({i.run_id for i in items})
        log.error(
            "FAILED to store %d findings and %d notes of run(s) %s: %s",
            n_findings,
            n_notes,
            runs,
            exc,
            exc_info=exc,
        )
