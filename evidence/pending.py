"""Runs opened while the store was unreachable, created in it when it answers.

A live proxy must start, and keep the device's traffic flowing, even when the
central database is down at that moment. Its run then gets a provisional
negative id from the spool (``SpoolRuns.provisional``); findings and
connection records are spooled under that id, and this sink opens the run in
the store — with its own start time and facts — the first time records of it
are delivered, and remembers the id the store gave it in the spool, so that a
restart delivers the rest into the same run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from shekara.audit.flowmeta import FlowMeta
from shekara.audit.model import Finding, Note
from shekara.evidence import raw
from shekara.evidence.connections import ConnectionRecord
from shekara.evidence.spool import SpoolRuns
from shekara.evidence.store import FindingStore

log = logging.getLogger(__name__)


class PendingRuns:
    """A FindingSink over a store that first opens provisional runs in it."""

    def __init__(self, store: FindingStore, runs: SpoolRuns) -> None:
        self.store = store
        self.runs = runs
        self._lock = threading.Lock()

    def add(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note] = (),
        connections: Sequence[ConnectionRecord] = (),
        *,
        flows: Sequence[FlowMeta] = (),
    ) -> None:
        self.store.add(self.real_id(run_id), findings, notes, connections, flows=flows)

    def real_id(self, run_id: int) -> int:
        """The store's id of a run, opening a provisional one now; store errors propagate."""
        known = self.runs.resolved(run_id)
        if known is not None:
            return known
        with self._lock:
            known = self.runs.resolved(run_id)
            if known is not None:
                return known
            facts = self.runs.pending_facts(run_id)
            if facts is None:
                raise LookupError(f"provisional run {run_id} is not known to this spool")
            raw_path = facts.pop("raw_evidence_path", None)
            self.store.create_schema()
            # A crash between this insert and the spool's note of it leaves an empty run
            # open in the store; the records themselves go into the one recorded next.
            real = self.store.start_run(**facts)
            if raw_path:
                raw.record_path(self.store, real, raw_path)
            self.runs.resolve(run_id, real)
        log.warning("run %d, opened while the store was unreachable, is run %d", run_id, real)
        return real
