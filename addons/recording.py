"""Pipeline stage 5: findings and notes handed to the store, then dropped from the flow.

Writing happens on the store writer's thread so that the proxy's event loop
never waits for a disk; a failure to store is logged loudly by the writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mitmproxy import flow as mflow

from shekara.addons import state
from shekara.audit.model import Finding, Note
from shekara.evidence.writer import StoreWriter

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Finding], Sequence[Note]], None]


class Recording:
    def __init__(self, writer: StoreWriter, run_id: int, sinks: Sequence[Sink] = ()) -> None:
        self.writer = writer
        self.run_id = run_id
        self.sinks = list(sinks)
        self.findings = 0
        self.notes = 0

    def _record(self, f: mflow.Flow) -> None:
        a = state.end(f)
        if a is None or not (a.findings or a.notes):
            return
        self.findings += len(a.findings)
        self.notes += len(a.notes)
        self.writer.submit(self.run_id, a.findings, a.notes)
        for sink in self.sinks:
            try:
                sink(a.findings, a.notes)
            except Exception:
                log.exception("a findings sink failed")

    def response(self, f: mflow.Flow) -> None:
        self._record(f)

    def error(self, f: mflow.Flow) -> None:
        self._record(f)

    def websocket_message(self, f: mflow.Flow) -> None:
        self._record(f)

    def tcp_message(self, f: mflow.Flow) -> None:
        self._record(f)

    def websocket_end(self, f: mflow.Flow) -> None:
        state.forget(f)

    def tcp_end(self, f: mflow.Flow) -> None:
        state.forget(f)

    def tcp_error(self, f: mflow.Flow) -> None:
        state.forget(f)

    def done(self) -> None:
        self.writer.flush()
