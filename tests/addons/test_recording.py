"""Recording: replay queues findings; the live proxy waits until they are durable in the spool."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from shekara.addons import recording, state
from shekara.addons.recording import FLOW_BATCH, Recording
from shekara.audit.flowmeta import FlowFacts, FlowMeta, describe
from shekara.audit.model import Finding
from shekara.evidence.connections import ConnectionRecord
from shekara.evidence.spool import Spool
from shekara.evidence.writer import SpooledWriter, StoreWriter
from tests.evidence.conftest import build_finding, build_note
from tests.evidence.fakes import Delivery, FakeStore


class _Sink(FakeStore):
    def __init__(self) -> None:
        self.rows: list[tuple[int, str]] = []
        self.connections: list[tuple[int, str]] = []

    def deliver(self, d: Delivery) -> None:
        self.rows += [(d.run_id, f.flow_id) for f in d.findings]
        self.connections += [(d.run_id, c.flow_id) for c in d.connections]


def _flow_with_findings(n: int = 2):  # type: ignore[no-untyped-def]
    f = tflow.tflow(resp=True)
    a = state.begin(f, 1.0)
    a.findings.extend(build_finding(flow_id=f.id, field=f"request.body:$.v{i}") for i in range(n))
    a.notes.append(build_note(flow_id=f.id))
    return f


def test_live_hook_returns_an_awaitable_that_resolves_once_spooled(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    writer = SpooledWriter(_Sink(), spool)
    rec = Recording(writer, 7)
    seen: list[list[Finding]] = []
    rec.sinks.append(lambda fs, _ns: seen.append(list(fs)))

    async def hook() -> bool:
        result = rec.response(_flow_with_findings())
        assert inspect.isawaitable(result)
        return bool(await result)

    try:
        assert asyncio.run(hook()) is True
        # Acknowledged means on disk: a new process would find it in the spool.
        assert spool.stats().appended == 1
        assert (rec.findings, rec.notes) == (2, 1)
        assert len(seen) == 1 and len(seen[0]) == 2
    finally:
        assert writer.close(timeout=5)
        spool.close()


def test_without_an_event_loop_the_hook_waits_itself(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    sink = _Sink()
    writer = SpooledWriter(sink, spool)
    rec = Recording(writer, 7)
    try:
        assert rec.tcp_message(_flow_with_findings(3)) is None
        assert spool.stats().appended == 1
        rec.done()
        assert len(sink.rows) == 3
    finally:
        writer.close(timeout=5)
        spool.close()


def test_replay_hook_queues_and_returns_nothing() -> None:
    sink = _Sink()
    writer = StoreWriter(sink, max_delay=60)  # type: ignore[arg-type]
    rec = Recording(writer, 3)
    f = _flow_with_findings()
    assert rec.response(f) is None
    assert state.current(f) is None  # the analysis left the flow
    rec.done()
    assert sorted(sink.rows) == [(3, f.id), (3, f.id)]
    writer.close(timeout=5)


def test_an_event_without_findings_is_not_spooled(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    writer = SpooledWriter(_Sink(), spool)
    try:
        f = tflow.tflow(resp=True)
        state.begin(f, 1.0)
        assert Recording(writer, 1).response(f) is None
        assert spool.stats().appended == 0
    finally:
        writer.close(timeout=5)
        spool.close()


def test_a_connection_that_ends_is_spooled_with_the_flows_last_findings(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    sink = _Sink()
    writer = SpooledWriter(sink, spool)
    rec = Recording(writer, 4)
    f = tflow.ttcpflow()
    a = state.begin(f, 1.0)
    a.findings.append(build_finding(flow_id=f.id))
    state.set_connection(f, ConnectionRecord(f.id, "tcp", "undetermined", 1.0, 2.0, bytes_up=9))
    try:
        rec.tcp_end(f)
        assert writer.flush(timeout=5)
        # One spool record for both: one write, one fsync for the flow's end.
        assert spool.stats().appended == 1
        assert sink.rows == [(4, f.id)] and sink.connections == [(4, f.id)]
        assert state.take_connection(f) is None
        # A connection whose end brought no finding is spooled on its own.
        g = tflow.ttcpflow()
        state.set_connection(g, ConnectionRecord(g.id, "tcp", "read", 1.0, 2.0))
        rec.tcp_end(g)
        assert writer.flush(timeout=5)
        assert spool.stats().appended == 2 and sink.connections == [(4, f.id), (4, g.id)]
    finally:
        assert writer.close(timeout=5)


class _FlowSink(FakeStore):
    """Keeps each stored call's flow ids, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[str]]] = []

    def deliver(self, d: Delivery) -> None:
        self.calls.append((len(d.findings), [m.flow_id for m in d.flows]))


def _described(flow_id: str) -> FlowMeta:
    return describe(FlowFacts(flow_id, "http", scheme="https", host="h.kz", target="/"))


def test_metadata_of_quiet_flows_waits_for_a_batch_and_keeps_its_order() -> None:
    sink = _FlowSink()
    writer = StoreWriter(sink, max_delay=0.01)
    rec = Recording(writer, 7)
    for i in range(3):
        f = tflow.tflow(resp=True)
        state.begin(f, 1.0).flow = _described(f"quiet-{i}")
        rec.response(f)
    assert writer.flush(5) and sink.calls == []  # waiting, not lost: counted
    assert rec.flows == 3
    loud = _flow_with_findings(1)
    state.current(loud).flow = _described("loud")  # type: ignore[union-attr]
    rec.response(loud)
    assert writer.flush(5)
    # The waiting records go with the next findings, before the flow's own.
    assert sink.calls == [(1, ["quiet-0", "quiet-1", "quiet-2", "loud"])]
    for i in range(FLOW_BATCH):
        f = tflow.tflow(resp=True)
        state.begin(f, 1.0).flow = _described(f"b-{i}")
        rec.response(f)
    assert writer.flush(5) and len(sink.calls) == 2 and len(sink.calls[1][1]) == FLOW_BATCH
    last = tflow.tflow(resp=True)
    state.begin(last, 1.0).flow = _described("last")
    rec.response(last)
    rec.done()  # shutdown hands on what still waits
    assert sink.calls[-1] == (0, ["last"])
    writer.close(5)


def test_live_metadata_of_quiet_flows_is_spooled_together_after_a_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "FLOW_DELAY", 0.2)
    spool = Spool(tmp_path / "spool")
    sink = _FlowSink()
    writer = SpooledWriter(sink, spool)
    rec = Recording(writer, 7)

    async def quiet_device() -> list[int]:
        appended = []
        for i in range(5):
            f = tflow.tflow(resp=True)
            state.begin(f, 1.0).flow = _described(f"quiet-{i}")
            assert rec.response(f) is None  # the device's traffic does not wait for it
        appended.append(spool.stats().appended)
        await asyncio.sleep(0.6)  # no further event: the timer hands them on
        assert writer.flush(timeout=5)
        appended.append(spool.stats().appended)
        return appended

    try:
        assert asyncio.run(quiet_device()) == [0, 1]
        assert sink.calls == [(0, [f"quiet-{i}" for i in range(5)])]
    finally:
        writer.close(timeout=5)
        spool.close()
