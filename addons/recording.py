"""Pipeline stage 5: findings and notes handed to the store's writer, then dropped from the flow.

A connection that ended with the event (live proxy) goes along in the same
submission: one spool record holds the flow's last findings and its
connection record.

Replay hands them to the store writer's queue and moves on. The live proxy
hands them to the spooled writer and *waits* (asynchronously: other
connections go on) until they are fsynced in the spool, because this hook
runs before mitmproxy forwards the response (or the TCP, UDP or WebSocket
message): a car that got its answer has had its findings acknowledged.
Failures are logged loudly by the writers; the traffic itself is never held
back by a failing store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from mitmproxy import flow as mflow

from shekara.addons import state
from shekara.audit.flowmeta import FlowMeta
from shekara.audit.model import Finding, Note
from shekara.evidence.writer import SpooledWriter, StoreWriter

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Finding], Sequence[Note]], None]
#: Records of flows without findings handed on together, and the longest one waits.
FLOW_BATCH = 256
FLOW_DELAY = 1.0
# How long mitmproxy's shutdown waits for the spool to drain into the store;
# what is left stays in the spool for the next start.
DONE_FLUSH_TIMEOUT = 10.0


class Recording:
    def __init__(
        self, writer: StoreWriter | SpooledWriter, run_id: int, sinks: Sequence[Sink] = ()
    ) -> None:
        self.writer = writer
        self.run_id = run_id
        self.sinks = list(sinks)
        self.findings = 0
        self.notes = 0
        self.flows = 0
        self._waiting_flows: list[FlowMeta] = []
        self._waiting_since = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def _record(self, f: mflow.Flow) -> Awaitable[bool] | None:
        """Hand the event's findings on; an awaitable when the writer acknowledges durably.

        mitmproxy awaits a hook's awaitable result before the flow goes on
        (``AddonManager.invoke_addon``). Under the synchronous ``trigger`` that
        replay uses it would be ignored, so replay keeps the StoreWriter.
        """
        a = state.end(f)
        ended = state.take_connection(f)
        connections = (ended,) if ended is not None else ()
        if a is not None and a.flow is not None:
            self.flows += 1
            self._waiting_flows.append(a.flow)
            if len(self._waiting_flows) == 1:
                self._waiting_since = time.monotonic()
        findings = a.findings if a is not None else []
        notes = a.notes if a is not None else []
        if not (findings or notes or connections):
            self._hand_on_flows(force=False)
            return None
        # Waiting records go first, in the order they were made: a later record of a
        # flow must never be overwritten by an earlier one.
        flows, self._waiting_flows = tuple(self._waiting_flows), []
        if findings or notes:
            self.findings += len(findings)
            self.notes += len(notes)
            for sink in self.sinks:
                try:
                    sink(findings, notes)
                except Exception:
                    log.exception("a findings sink failed")
        if isinstance(self.writer, StoreWriter):
            self.writer.submit(self.run_id, findings, notes, connections, flows=flows)
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # no event loop: a plain synchronous caller waits here
            self.writer.acknowledge(self.run_id, findings, notes, connections, flows=flows).result()
            return None
        return self.writer.acknowledge_async(self.run_id, findings, notes, connections, flows=flows)

    # Every flow carries its run (the test session) from its first event on, so flows
    # saved as raw evidence say which session they belong to.
    def requestheaders(self, f: mflow.Flow) -> None:
        f.metadata[state.RUN_KEY] = self.run_id

    def tcp_start(self, f: mflow.Flow) -> None:
        f.metadata[state.RUN_KEY] = self.run_id

    def udp_start(self, f: mflow.Flow) -> None:
        f.metadata[state.RUN_KEY] = self.run_id

    def dns_request(self, f: mflow.Flow) -> None:
        f.metadata[state.RUN_KEY] = self.run_id

    def response(self, f: mflow.Flow) -> Awaitable[bool] | None:
        return self._record(f)

    def error(self, f: mflow.Flow) -> Awaitable[bool] | None:
        return self._record(f)

    def websocket_message(self, f: mflow.Flow) -> Awaitable[bool] | None:
        return self._record(f)

    def tcp_message(self, f: mflow.Flow) -> Awaitable[bool] | None:
        return self._record(f)

    def udp_message(self, f: mflow.Flow) -> Awaitable[bool] | None:
        return self._record(f)

    def websocket_end(self, f: mflow.Flow) -> None:
        self._record(f)  # the stream's final flow record
        state.forget(f)

    def tcp_end(self, f: mflow.Flow) -> None:
        self._record(f)  # notes written when the connection closed
        state.forget(f)

    def tcp_error(self, f: mflow.Flow) -> None:
        self._record(f)
        state.forget(f)

    def udp_end(self, f: mflow.Flow) -> None:
        self._record(f)  # the association's connection record
        state.forget(f)

    def udp_error(self, f: mflow.Flow) -> None:
        self._record(f)
        state.forget(f)

    def dns_response(self, f: mflow.Flow) -> None:
        self._record(f)

    def dns_error(self, f: mflow.Flow) -> None:
        self._record(f)

    def _hand_on_flows(self, *, force: bool) -> None:
        """Hand on the metadata of flows without findings, a batch at a time.

        A submission per flow would cost the writer a wake-up each (replay ran a
        quarter slower) and the live proxy a spool record, an fsync and a store
        row each (it ran at 0.6x of bare mitmdump). So records of flows without
        findings wait here (at most ``FLOW_BATCH`` of them, ``FLOW_DELAY``
        seconds) and go with the next findings, or on their own once the batch
        is full or old, or at the end. Live, a timer on the event loop hands on
        what a quiet device left waiting. A crash can lose these records of the
        last second; never a finding, which goes at once with its flow's record.
        """
        waiting = self._waiting_flows
        if not waiting:
            return
        if not force:
            young = time.monotonic() - self._waiting_since < FLOW_DELAY
            if len(waiting) < FLOW_BATCH and young:
                self._hand_on_later()
                return
        self._waiting_flows = []
        if isinstance(self.writer, StoreWriter):
            self.writer.submit(self.run_id, (), (), flows=waiting)
        else:
            self.writer.acknowledge(self.run_id, (), (), flows=waiting)

    def _hand_on_later(self) -> None:
        if self._timer is not None or isinstance(self.writer, StoreWriter):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a synchronous caller: the next event or done() hands them on
        self._timer = loop.call_later(FLOW_DELAY, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self._hand_on_flows(force=True)
        except Exception:  # a closed writer at shutdown: done() reports what is left
            log.exception("handing on flow records failed")

    def done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._hand_on_flows(force=True)
        if isinstance(self.writer, StoreWriter):
            self.writer.flush()
        else:
            self.writer.flush(timeout=DONE_FLUSH_TIMEOUT)
