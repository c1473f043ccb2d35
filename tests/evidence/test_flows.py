"""Flow metadata in the store: one row a (run, flow), written through the findings' durable path."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from shekara.audit.flowmeta import FlowMeta
from shekara.evidence import schema
from shekara.evidence.spool import Spool, decode_payload, encode_payload
from shekara.evidence.store import FindingStore
from shekara.evidence.verify import verify_run
from shekara.evidence.writer import SpooledWriter, StoreWriter

from .conftest import build_finding, build_note
from .fakes import Delivery, FakeStore


def meta(flow_id: str = "f-1", **changes: object) -> FlowMeta:
    base = FlowMeta(
        flow_id=flow_id,
        protocol="https",
        application=None,
        method="POST",
        url="https://tsp.example.cn/api/v2/vehicle/LGX************05?token=***",
        host="tsp.example.cn",
        port=443,
        status=200,
        request_body_bytes=221,
        request_bytes=411,
        response_body_bytes=29,
        response_bytes=100,
        started_at=1733040000.1,
        ended_at=1733040000.31,
        client="10.42.0.17:40000",
        server="223.5.5.5:443",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _rows(store: FindingStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.flows)).scalar_one())


def test_round_trip_with_its_digest(store: FindingStore) -> None:
    run = store.start_run("replay")
    m = meta()
    store.add(run, [build_finding(flow_id="f-1")], [], flows=[m])
    assert store.get_flow(run, "f-1") == m
    with store.engine.connect() as conn:
        stored = conn.execute(select(schema.flows.c.sha256)).scalar_one()
    assert stored == m.digest
    # The float times come back bit for bit, so the digest can be recomputed from the row.
    again = store.get_flow(run, "f-1")
    assert again is not None and again.digest == stored
    assert store.get_flow(run, "other") is None
    assert store.get_flow(run + 1, "f-1") is None


def test_a_later_record_of_a_flow_replaces_the_earlier(store: FindingStore) -> None:
    run = store.start_run("proxy")
    first = meta("s-1", protocol="tcp", method=None, url="tcp://h.cn:5023", ended_at=None)
    store.add(run, [], [build_note(flow_id="s-1")], flows=[first])
    ended = replace(first, request_body_bytes=5000, ended_at=1733040099.0)
    # Twice in one call (the first event and the end in one batch), then again (a retry).
    store.add(run, [], [], flows=[first, ended])
    store.add(run, [], [], flows=[ended])
    assert store.get_flow(run, "s-1") == ended
    assert _rows(store) == 1
    # Another run's flow of the same id is another row.
    other = store.start_run("proxy")
    store.add(other, [], [], flows=[first])
    assert store.get_flow(other, "s-1") == first and _rows(store) == 2


def test_flows_of_an_unknown_run_are_refused_with_the_rest(store: FindingStore) -> None:
    with pytest.raises(IntegrityError):
        store.add(999, [], [build_note()], flows=[meta()])
    assert _rows(store) == 0


def test_the_findings_chain_verifies_with_flows_stored_alongside(store: FindingStore) -> None:
    run = store.start_run("replay")
    store.add(run, [build_finding(flow_id="f-1")], flows=[meta()])
    store.add(run, [build_finding(flow_id="f-2")], flows=[meta("f-2"), replace(meta(), status=500)])
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.runs).where(schema.runs.c.id == run)).mappings().one()
        report = verify_run(conn, row)
    assert report.ok and report.length == 2
    assert store.get_flow(run, "f-1") == replace(meta(), status=500)


def test_spool_records_carry_flows_and_older_records_read_as_none() -> None:
    payload = encode_payload(3, [build_finding()], [build_note()], flows=[meta(), meta("f-2")])
    record = decode_payload(7, payload)
    assert record.flows == (meta(), meta("f-2"))
    old = encode_payload(3, [build_finding()], [])
    assert b'"m"' not in old and decode_payload(8, old).flows == ()


def test_replay_writer_stores_metadata_alone(store: FindingStore) -> None:
    run = store.start_run("replay")
    with StoreWriter(store, max_delay=0.05) as writer:
        assert writer.submit(run, [], [], flows=[meta("quiet")])
        assert writer.flush(timeout=10)
        assert writer.stored_flows == 1
    assert store.get_flow(run, "quiet") == meta("quiet")


class _Gate(FakeStore):
    """The real store behind a switch: down (connection refused) until ``up`` is set."""

    def __init__(self, store: FindingStore) -> None:
        self.store = store
        self.up = threading.Event()

    def deliver(self, d: Delivery) -> None:
        if not self.up.is_set():
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        self.store.add(d.run_id, d.findings, d.notes, d.connections, flows=d.flows)


def test_metadata_spools_while_the_store_is_down_and_drains_after_a_restart(
    store: FindingStore, tmp_path: Path
) -> None:
    run = store.start_run("proxy")
    gate = _Gate(store)
    spool_dir = tmp_path / "spool"
    writer = SpooledWriter(gate, Spool(spool_dir), retry_initial=0.01, retry_max=0.05)
    try:
        assert writer.acknowledge(run, [], [], flows=[meta("quiet")]).result(10)
        with_finding = meta("loud", status=201)
        assert writer.submit(run, [build_finding(flow_id="loud")], [], flows=[with_finding])
        assert not writer.flush(timeout=0.3)
    finally:
        assert not writer.close(timeout=0.3)
        writer.spool.close()
    assert _rows(store) == 0  # nothing reached the store, nothing was dropped: all spooled

    gate.up.set()
    restarted = SpooledWriter(gate, Spool(spool_dir), retry_initial=0.01, retry_max=0.05)
    try:
        assert restarted.flush(timeout=10)
    finally:
        assert restarted.close(timeout=10)
        restarted.spool.close()
    assert store.get_flow(run, "quiet") == meta("quiet")
    assert store.get_flow(run, "loud") == with_finding
    assert store.count(run_id=run) == 1
