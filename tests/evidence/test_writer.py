"""StoreWriter (batching, flush, close, loud failures, back-pressure) and SpooledWriter."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shekara.audit.model import Finding
from shekara.evidence.connections import ConnectionRecord
from shekara.evidence.pending import PendingRuns
from shekara.evidence.spool import Spool, SpoolRuns
from shekara.evidence.store import FindingStore
from shekara.evidence.writer import SpooledWriter, StoreWriter, WriterClosedError
from tests.evidence.fakes import Delivery, FakeStore

from .conftest import build_finding, build_note


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _findings(n: int, prefix: str = "f") -> list[Finding]:
    return [build_finding(flow_id=f"{prefix}{i}") for i in range(n)]


def test_flush_commits_everything_submitted(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    with StoreWriter(store, batch_size=1000, max_delay=60) as writer:
        for i in range(10):
            assert writer.submit(run_id, _findings(3, prefix=f"{i}-"), [build_note(flow_id=str(i))])
        assert writer.flush(timeout=5)
        assert store.count() == 30
        assert store.count_notes() == 10
        assert (writer.stored_findings, writer.stored_notes, writer.failed) == (30, 10, 0)
        assert writer.pending == 0


def test_nothing_is_committed_before_the_batch_is_due(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    writer = StoreWriter(store, batch_size=1000, max_delay=60)
    writer.submit(run_id, _findings(5))
    time.sleep(0.3)
    assert store.count() == 0
    assert writer.pending == 5
    assert writer.close(timeout=5)
    assert store.count() == 5


def test_a_full_batch_commits_without_flush(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    writer = StoreWriter(store, batch_size=4, max_delay=60)
    writer.submit(run_id, _findings(2, "a"))
    writer.submit(run_id, _findings(2, "b"))
    assert _wait_for(lambda: store.count() == 4)
    writer.close(timeout=5)


def test_an_old_batch_commits_without_flush(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    writer = StoreWriter(store, batch_size=1000, max_delay=0.05)
    writer.submit(run_id, _findings(1))
    assert _wait_for(lambda: store.count() == 1)
    writer.close(timeout=5)


def test_close_drains_the_queue_and_refuses_more(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    writer = StoreWriter(store, batch_size=1000, max_delay=60)
    writer.submit(run_id, _findings(7))
    assert writer.close(timeout=5)
    assert store.count() == 7
    with pytest.raises(WriterClosedError):
        writer.submit(run_id, _findings(1))


def test_submissions_of_several_runs_land_in_their_runs(store: FindingStore) -> None:
    a, b = store.start_run("proxy"), store.start_run("replay")
    with StoreWriter(store, max_delay=60) as writer:
        writer.submit(a, _findings(2))
        writer.submit(b, _findings(3))
        writer.flush(timeout=5)
    assert (store.count(run_id=a), store.count(run_id=b)) == (2, 3)


def test_the_caller_may_reuse_its_list(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    findings = _findings(2)
    with StoreWriter(store, max_delay=60) as writer:
        writer.submit(run_id, findings)
        findings.clear()
        writer.flush(timeout=5)
    assert store.count() == 2


def test_empty_submission_is_accepted_and_ignored(store: FindingStore) -> None:
    with StoreWriter(store) as writer:
        assert writer.submit(1, [], [])
        assert writer.flush(timeout=5)
        assert writer.stats().stored_findings == 0


def test_write_failure_is_loud(store: FindingStore, caplog: pytest.LogCaptureFixture) -> None:
    run_id = store.start_run("proxy")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE findings"))
    caplog.set_level(logging.ERROR, logger="shekara.evidence.writer")
    with StoreWriter(store, max_delay=60) as writer:
        writer.submit(run_id, _findings(4), [build_note()])
        assert writer.flush(timeout=5)
        assert writer.failed == 4
        assert writer.failed_notes == 1
        assert writer.stored_findings == 0
        assert writer.last_error is not None and "findings" in str(writer.last_error)
        assert writer.stats().last_error is not None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "4 findings" in errors[0].getMessage()


def test_one_bad_submission_does_not_sink_its_batch(
    store: FindingStore, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = store.start_run("proxy")
    caplog.set_level(logging.ERROR, logger="shekara.evidence.writer")
    with StoreWriter(store, batch_size=1000, max_delay=60) as writer:
        writer.submit(run_id, _findings(2, "ok1-"))
        writer.submit(999, _findings(3, "orphan-"))  # no such run: foreign key fails
        writer.submit(run_id, _findings(2, "ok2-"))
        writer.flush(timeout=5)
        assert writer.failed == 3
        assert writer.stored_findings == 4
    assert store.count() == 4
    assert any("3 findings" in r.getMessage() for r in caplog.records)


class _BlockingSink(FakeStore):
    """A store that holds every write until released: lets the queue fill up."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.rows = 0

    def deliver(self, d: Delivery) -> None:
        self.started.set()
        self.release.wait(10)
        self.rows += len(d.findings) + len(d.notes)


def test_full_queue_blocks_then_drops_loudly(caplog: pytest.LogCaptureFixture) -> None:
    sink = _BlockingSink()
    writer = StoreWriter(sink, batch_size=1, max_delay=60, max_pending=2, submit_timeout=0.1)
    caplog.set_level(logging.ERROR, logger="shekara.evidence.writer")
    try:
        writer.submit(1, _findings(1, "a"))  # taken by the worker, which blocks in add()
        assert sink.started.wait(5)
        assert writer.submit(1, _findings(2, "b"))  # fills the queue
        began = time.monotonic()
        assert not writer.submit(1, _findings(1, "c"))
        assert time.monotonic() - began >= 0.09  # it waited before dropping
        assert writer.failed == 1
        assert any("dropped 1 findings" in r.getMessage() for r in caplog.records)
    finally:
        sink.release.set()
        writer.close(timeout=5)
    assert sink.rows == 3


def test_blocked_submit_proceeds_when_room_is_made() -> None:
    sink = _BlockingSink()
    writer = StoreWriter(sink, batch_size=1, max_delay=60, max_pending=1, submit_timeout=5)
    try:
        writer.submit(1, _findings(1, "a"))
        assert sink.started.wait(5)
        writer.submit(1, _findings(1, "b"))
        threading.Timer(0.1, sink.release.set).start()
        assert writer.submit(1, _findings(1, "c"))
    finally:
        sink.release.set()
        writer.close(timeout=5)
    assert writer.failed == 0
    assert sink.rows == 3


def test_oversized_submission_is_admitted_into_an_empty_queue() -> None:
    sink = _BlockingSink()
    sink.release.set()
    with StoreWriter(sink, max_pending=2, max_delay=60) as writer:
        assert writer.submit(1, _findings(5), timeout=0)
        writer.flush(timeout=5)
    assert sink.rows == 5


def test_flush_times_out_while_the_store_is_stuck() -> None:
    sink = _BlockingSink()
    writer = StoreWriter(sink, max_delay=60)
    try:
        writer.submit(1, _findings(1))
        assert not writer.flush(timeout=0.1)
    finally:
        sink.release.set()
        writer.close(timeout=5)


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"max_pending": 0}, {"max_delay": 0}, {"submit_timeout": -1}],
)
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        StoreWriter(_BlockingSink(), **kwargs)


# -- SpooledWriter: acknowledged = fsynced in the spool ----------------------------


class _FlakySink(FakeStore):
    """A store that is down (OperationalError) until ``up`` is set; refuses run 666 for good."""

    def __init__(self, up: bool = True) -> None:
        self.up = threading.Event()
        if up:
            self.up.set()
        self.calls = 0
        self.rows: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def deliver(self, d: Delivery) -> None:
        with self.lock:
            self.calls += 1
        if not self.up.is_set():
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        if d.run_id == 666:
            raise ValueError("no such run")
        with self.lock:
            self.rows.extend((d.run_id, f.flow_id) for f in d.findings)


def _spooled(sink: object, spool_dir: Path, **kwargs: object) -> SpooledWriter:
    defaults: dict = {"retry_initial": 0.01, "retry_max": 0.05, "status_interval": 0.05}
    return SpooledWriter(sink, Spool(spool_dir), **(defaults | kwargs))  # type: ignore[arg-type]


def test_spooled_acknowledges_then_stores(tmp_path: Path) -> None:
    sink = _FlakySink()
    writer = _spooled(sink, tmp_path / "spool")
    futures = [writer.acknowledge(1, _findings(2, f"{i}-")) for i in range(20)]
    assert all(f.result(5) for f in futures)
    assert writer.flush(timeout=5)
    assert sorted(r[1] for r in sink.rows) == sorted(f"{i}-{k}" for i in range(20) for k in (0, 1))
    assert writer.close(timeout=5)
    assert writer.stats().acknowledged_findings == 40


def test_spooled_gathers_a_steady_trickle_into_few_transactions(tmp_path: Path) -> None:
    sink = _FlakySink()
    writer = _spooled(sink, tmp_path / "spool", linger=0.3)
    try:
        for i in range(30):
            assert writer.submit(1, _findings(1, f"t{i}-"), timeout=5)
            time.sleep(0.01)
        assert writer.flush(timeout=5)
    finally:
        writer.close(timeout=5)
    assert len(sink.rows) == 30
    # 30 records over ~0.3 s with a 0.3 s linger: a handful of store transactions, not 30.
    assert sink.calls <= 4


def test_spooled_without_linger_delivers_each_record_as_it_comes(tmp_path: Path) -> None:
    sink = _FlakySink()
    writer = _spooled(sink, tmp_path / "spool", linger=0)
    try:
        for i in range(10):
            assert writer.submit(1, _findings(1, f"n{i}-"), timeout=5)
            assert writer.flush(timeout=5)
    finally:
        writer.close(timeout=5)
    assert sink.calls == 10


def test_spooled_keeps_acknowledging_while_the_store_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _FlakySink(up=False)
    status = tmp_path / "status.json"
    caplog.set_level(logging.WARNING, logger="shekara.evidence.writer")
    writer = _spooled(sink, tmp_path / "spool", status_path=status)
    try:
        for i in range(10):
            assert writer.submit(1, _findings(1, f"d{i}-"), timeout=5)
        assert _wait_for(lambda: sink.calls >= 5)  # it retried, and retries
        assert _wait_for(lambda: json.loads(status.read_text())["store"] == "down")
        doc = json.loads(status.read_text())
        assert doc["state"] == "running"
        assert "connection refused" in doc["store_error"]
        assert doc["spool_records"] == 10
        assert not writer.flush(timeout=0.2)
        assert sink.rows == []
        sink.up.set()
        assert writer.flush(timeout=5)
        assert _wait_for(lambda: json.loads(status.read_text())["store"] == "ok")
        assert sorted(r[1] for r in sink.rows) == sorted(f"d{i}-0" for i in range(10))
    finally:
        writer.close(timeout=5)
    assert json.loads(status.read_text())["state"] == "stopped"
    # Once per change of state, not once per retry.
    downs = [r for r in caplog.records if "unavailable" in r.getMessage()]
    ups = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(downs) == 1 and downs[0].levelno == logging.ERROR
    assert len(ups) == 1 and ups[0].levelno == logging.WARNING


def test_spooled_close_leaves_what_the_store_did_not_take_for_the_next_start(
    tmp_path: Path,
) -> None:
    down = _FlakySink(up=False)
    writer = _spooled(down, tmp_path / "spool")
    for i in range(5):
        assert writer.submit(4, _findings(1, f"k{i}-"), timeout=5)
    assert not writer.close(timeout=0.3)
    writer.spool.close()
    assert down.rows == []
    recovered: list[bool] = []
    up = _FlakySink()
    writer = _spooled(up, tmp_path / "spool", after_recovery=lambda: recovered.append(True))
    assert writer.flush(timeout=5)
    assert _wait_for(lambda: recovered == [True])
    assert sorted(up.rows) == [(4, f"k{i}-0") for i in range(5)]
    assert writer.close(timeout=5)


def test_spooled_full_spool_is_loud_and_still_delivers_from_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _FlakySink(up=False)
    caplog.set_level(logging.ERROR, logger="shekara.evidence.writer")
    writer = SpooledWriter(
        sink,  # type: ignore[arg-type]
        Spool(tmp_path / "spool", max_bytes=4096),
        retry_initial=0.01,
        retry_max=0.05,
    )
    try:
        results = [writer.submit(1, _findings(1, f"o{i}-"), timeout=5) for i in range(20)]
        assert results[0] is True
        assert results.count(False) > 0
        refused = results.count(False)
        assert writer.stats().unacknowledged_findings == refused
        assert any("NOT acknowledged" in r.getMessage() for r in caplog.records)
        sink.up.set()
        assert writer.flush(timeout=5)
        # The store got them all: the refused ones from the memory overflow queue.
        assert len(sink.rows) == 20
        assert writer.stats().dropped_findings == 0
    finally:
        writer.close(timeout=5)


def test_spooled_a_record_refused_for_good_is_quarantined(tmp_path: Path) -> None:
    sink = _FlakySink()
    writer = _spooled(sink, tmp_path / "spool")
    writer.submit(1, _findings(1, "a"), timeout=5)
    writer.submit(666, _findings(1, "bad"), timeout=5)
    writer.submit(1, _findings(1, "b"), timeout=5)
    assert writer.flush(timeout=5)
    assert writer.close(timeout=5)
    # When "a" and "bad" share a batch, the refused batch is retried record by record, so
    # the fake sees "a" twice; the real store skips the repeat (its dedup key).
    assert sorted(set(sink.rows)) == [(1, "a0"), (1, "b0")]
    assert writer.stats().rejected_records == 1
    assert (tmp_path / "spool" / "rejected.spool").stat().st_size > 0


def test_spooled_redelivery_is_exactly_once_in_a_real_store(
    store: FindingStore, tmp_path: Path
) -> None:
    run_id = store.start_run("proxy")
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    spool.append_many(
        [(run_id, _findings(3, f"r{i}-"), [build_note(flow_id=f"r{i}")]) for i in range(4)]
    )
    # The store commits, then the process dies before the release is written.
    for rec in spool.read():
        store.add(rec.run_id, rec.findings, rec.notes)
    spool.close()
    writer = SpooledWriter(store, Spool(spool_dir))
    assert writer.flush(timeout=10)
    assert writer.close(timeout=10)
    assert store.count(run_id=run_id) == 12
    assert store.count_notes(run_id) == 4


def test_spooled_acknowledges_on_the_event_loop(tmp_path: Path) -> None:
    sink = _FlakySink()
    writer = _spooled(sink, tmp_path / "spool")

    async def flows() -> list[bool]:
        waits = [writer.acknowledge_async(1, _findings(1, f"a{i}-")) for i in range(50)]
        return list(await asyncio.wait_for(asyncio.gather(*waits), 5))

    try:
        assert asyncio.run(flows()) == [True] * 50
        assert writer.flush(timeout=5)
    finally:
        writer.close(timeout=5)
    assert sorted(r[1] for r in sink.rows) == sorted(f"a{i}-0" for i in range(50))
    assert writer.stats().acknowledged_findings == 50


def test_spooled_tells_the_event_loop_what_the_full_spool_refused(tmp_path: Path) -> None:
    writer = SpooledWriter(
        _FlakySink(up=False),  # type: ignore[arg-type]
        Spool(tmp_path / "spool", max_bytes=4096),
        retry_initial=0.01,
        retry_max=0.05,
    )

    async def flows() -> list[bool]:
        waits = [writer.acknowledge_async(1, _findings(1, f"o{i}-")) for i in range(20)]
        return list(await asyncio.wait_for(asyncio.gather(*waits), 5))

    try:
        results = asyncio.run(flows())
        assert results[0] is True
        assert results.count(False) == writer.stats().unacknowledged_findings > 0
    finally:
        writer.close(timeout=1)


def test_spooled_connections_of_a_provisional_run_land_in_it_exactly_once(
    tmp_path: Path,
) -> None:
    """Started while the store was unreachable: records wait in the spool under a provisional
    run id, go into the run the store opens for it, and a second delivery adds nothing."""
    folder = tmp_path / "db"  # not there yet: the store cannot be opened
    store = FindingStore(f"sqlite:///{folder / 'findings.db'}")
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    runs = SpoolRuns(spool, str(store.url))
    run = runs.provisional({"kind": "proxy", "started_at": time.time()})
    conns = [ConnectionRecord(f"c{i}", "tcp", "read", 1.0, 2.0, bytes_up=i) for i in range(5)]
    writer = SpooledWriter(PendingRuns(store, runs), spool, retry_initial=0.01, retry_max=0.05)
    futures = [writer.acknowledge(run, [], [], [c]) for c in conns[:4]]
    futures.append(writer.acknowledge(run, _findings(1, "x"), [], conns[4:]))
    assert all(f.result(5) for f in futures)
    assert not writer.flush(timeout=0.3)  # the store is unreachable
    assert writer.stats().store == "down"
    folder.mkdir()
    assert writer.flush(timeout=10)
    assert writer.close(timeout=10)
    assert writer.stats().stored_connections == 5
    real = runs.resolved(run)
    assert real is not None and real > 0
    assert sorted(c.flow_id for c in store.query_connections(real)) == [f"c{i}" for i in range(5)]
    assert store.count(run_id=real) == 1
    spool.close()

    # The release mark lost (a crash after the commit): everything is delivered again.
    (spool_dir / "released").unlink()
    spool = Spool(spool_dir)
    assert spool.pending == 5
    runs = SpoolRuns(spool, str(store.url))
    writer = SpooledWriter(PendingRuns(store, runs), spool)
    assert writer.flush(timeout=10) and writer.close(timeout=10)
    spool.close()
    assert runs.resolved(run) == real
    assert len(store.query_connections(real)) == 5
    assert store.count(run_id=real) == 1
    store.dispose()
