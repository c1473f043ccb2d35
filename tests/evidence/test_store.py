"""FindingStore on SQLite and PostgreSQL: durability settings, runs, duplicate-free writes, queries.

Tests taking ``store`` or ``db_url`` run on both back ends; ``sqlite_store`` ones on SQLite only.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shekara.audit.model import Category
from shekara.evidence.rows import SummaryRow
from shekara.evidence.store import (
    FindingStore,
    StoreError,
    UnknownRunError,
    configure_sqlite_connection,
    normalise_url,
)

from .conftest import FOREIGN, build_finding, build_note

DOMESTIC = replace(FOREIGN, host="api.example.kz", sni="api.example.kz", country="KZ")


def _pragma(store: FindingStore, name: str) -> object:
    with store.engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar_one()


# -- connection settings ------------------------------------------------------


def test_wal_and_full_sync_are_set(sqlite_store: FindingStore) -> None:
    assert str(_pragma(sqlite_store, "journal_mode")).lower() == "wal"
    assert _pragma(sqlite_store, "synchronous") == 2  # FULL
    assert _pragma(sqlite_store, "foreign_keys") == 1


def test_configure_overrides_weaker_settings(db_path: Path) -> None:
    # SQLite's own defaults may already be FULL; start from the weakest to see the change.
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA busy_timeout=0")
    configure_sqlite_connection(raw, 2500)
    assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    raw.close()


def test_busy_timeout_follows_the_argument(db_path: Path) -> None:
    s = FindingStore(f"sqlite:///{db_path}", busy_timeout_ms=1234)
    assert _pragma(s, "busy_timeout") == 1234
    s.dispose()


def test_pragmas_hold_on_every_pooled_connection(sqlite_store: FindingStore) -> None:
    # synchronous is per connection: two connections open at once must both have it.
    with sqlite_store.engine.connect() as a, sqlite_store.engine.connect() as b:
        for conn in (a, b):
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_postgresql_keeps_commits_durable(store: FindingStore) -> None:
    if store.dialect != "postgresql":
        assert _pragma(store, "synchronous") == 2  # the SQLite counterpart: FULL
        return
    with store.engine.connect() as conn:
        assert conn.execute(text("SHOW fsync")).scalar_one() == "on"
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"


def test_written_findings_survive_reopening(db_url: str) -> None:
    first = FindingStore(db_url)
    first.create_schema()
    run_id = first.start_run("replay")
    first.add(run_id, [build_finding()], [])
    first.dispose()
    second = FindingStore(db_url)
    assert second.count() == 1
    assert second.query_findings()[0].finding == build_finding()
    second.dispose()


@pytest.mark.parametrize(
    "given, driver",
    [
        ("postgresql://u@db.example:5432/shekara", "postgresql+psycopg"),
        ("postgres://u@db.example/shekara", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/shekara", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver
    s = FindingStore(given)  # no connection is made yet
    assert s.url.drivername == driver
    assert s.engine.dialect.driver == ("psycopg" if "psycopg" in driver else "pysqlite")
    s.dispose()


@pytest.mark.postgresql
def test_plain_postgresql_url_reaches_the_server(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    assert plain.startswith("postgresql://")
    s = FindingStore(plain)
    s.create_schema()
    s.check()
    s.dispose()


def test_in_memory_store_is_shared_across_threads() -> None:
    s = FindingStore("sqlite://")
    s.create_schema()
    run_id = s.start_run("proxy")
    worker = threading.Thread(target=s.add, args=(run_id, [build_finding()], []))
    worker.start()
    worker.join()
    assert s.count() == 1


# -- health ---------------------------------------------------------------------


def test_check_passes_on_a_ready_store(store: FindingStore) -> None:
    store.check()


def test_check_reports_missing_tables(db_url: str) -> None:
    s = FindingStore(db_url)
    with pytest.raises(StoreError, match="missing tables"):
        s.check()
    s.dispose()


def test_check_reports_an_unreachable_database(tmp_path: Path) -> None:
    s = FindingStore(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    with pytest.raises(StoreError, match="OperationalError"):
        s.check()


def test_check_reports_an_unreachable_postgresql_server() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    s = FindingStore("postgresql://postgres@127.0.0.1:1/shekara")
    with pytest.raises(StoreError, match="OperationalError"):
        s.check()
    s.dispose()


# -- runs -----------------------------------------------------------------------


def test_run_life_cycle(store: FindingStore) -> None:
    run_id = store.start_run(
        "replay",
        capture=Path("captures/a.mitm"),
        capture_sha256="ab" * 32,
        ruleset_name="kz",
        ruleset_version="2024.1",
        geo_sources=[{"name": "geolite2-country", "build": "2024-06-01"}],
        tool_version="9.9",
        started_at=100.0,
    )
    run = store.get_run(run_id)
    assert run is not None
    assert (run.kind, run.status, run.flows_read, run.finished_at) == ("replay", "running", 0, None)
    assert run.capture == "captures/a.mitm"
    assert run.geo_sources == [{"name": "geolite2-country", "build": "2024-06-01"}]
    assert (run.ruleset_name, run.ruleset_version, run.tool_version) == ("kz", "2024.1", "9.9")

    store.finish_run(run_id, 12, "failed", error="capture truncated", finished_at=200.0)
    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.flows_read, run.error, run.finished_at) == (
        "failed",
        12,
        "capture truncated",
        200.0,
    )


def test_runs_get_distinct_ids_and_a_default_tool_version(store: FindingStore) -> None:
    a, b = store.start_run("proxy"), store.start_run("proxy")
    assert a != b
    run = store.get_run(a)
    assert run is not None and run.tool_version


def test_unknown_run_kind_is_refused(store: FindingStore) -> None:
    with pytest.raises(ValueError, match="run kind"):
        store.start_run("live")


@pytest.mark.parametrize("status", ["running", "done", ""])
def test_finish_with_bad_status_is_refused(store: FindingStore, status: str) -> None:
    run_id = store.start_run("replay")
    with pytest.raises(ValueError):
        store.finish_run(run_id, 0, status)


def test_finish_unknown_run_raises(store: FindingStore) -> None:
    with pytest.raises(UnknownRunError):
        store.finish_run(999, 0, "completed")


def test_get_unknown_run_is_none(store: FindingStore) -> None:
    assert store.get_run(999) is None


# -- writing --------------------------------------------------------------------


def test_add_stores_findings_and_notes(store: FindingStore) -> None:
    run_id = store.start_run("replay")
    store.add(
        run_id,
        [build_finding(flow_id="a"), build_finding(flow_id="b")],
        [build_note(flow_id="a")],
    )
    assert store.count() == 2
    assert store.count_notes(run_id) == 1
    (note,) = store.query_notes(run_id=run_id)
    assert note.note.reason == "gzip: truncated stream"


def test_duplicates_are_skipped_across_and_within_calls(store: FindingStore) -> None:
    run_id = store.start_run("replay")
    finding, note = build_finding(), build_note()
    store.add(run_id, [finding, finding], [note, note])
    store.add(run_id, [finding], [note])
    assert store.count() == 1
    assert store.count_notes() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"flow_id": "flow-2"},
        {"field": "request.body:$.vin2"},
        {"category": Category.PHONE},
    ],
)
def test_a_difference_in_the_key_is_a_new_finding(store: FindingStore, changed: dict) -> None:
    run_id = store.start_run("replay")
    store.add(run_id, [build_finding(), build_finding(**changed)], [])
    assert store.count() == 2


def test_same_finding_in_another_run_is_kept(store: FindingStore) -> None:
    a, b = store.start_run("replay"), store.start_run("replay")
    store.add(a, [build_finding()], [])
    store.add(b, [build_finding()], [])
    assert store.count() == 2
    assert store.count(run_id=b) == 1


def test_add_to_unknown_run_fails_and_stores_nothing(store: FindingStore) -> None:
    with pytest.raises(UnknownRunError):  # findings: the run's chain head is not there
        store.add(999, [build_finding()], [build_note()])
    with pytest.raises(IntegrityError):  # notes alone: the foreign key refuses them
        store.add(999, [], [build_note()])
    assert store.count() == 0
    assert store.count_notes() == 0


def test_add_is_one_transaction(store: FindingStore) -> None:
    # Notes are written after findings; with their table gone the call fails
    # half-way, and the findings of that call must be rolled back with it.
    run_id = store.start_run("replay")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE notes"))
    with pytest.raises(Exception, match="notes"):
        store.add(run_id, [build_finding()], [build_note()])
    assert store.count() == 0


def test_add_nothing_is_a_no_op(store: FindingStore) -> None:
    store.add(999, [], [])
    assert store.count() == 0


# -- reading --------------------------------------------------------------------


@pytest.fixture
def filled(store: FindingStore) -> tuple[FindingStore, int, int]:
    a, b = store.start_run("replay"), store.start_run("proxy")
    store.add(
        a,
        [
            build_finding(flow_id="1"),
            build_finding(flow_id="2", category=Category.PHONE, rule_id="KZ-LOC-PHONE"),
            build_finding(
                flow_id="3", destination=replace(FOREIGN, host="maps.example.de", country="DE")
            ),
            build_finding(flow_id="4", destination=DOMESTIC, violation=False, verdict="domestic"),
        ],
        [],
    )
    store.add(b, [build_finding(flow_id="5", category=Category.LOCATION)], [])
    return store, a, b


@pytest.mark.parametrize(
    "filters, flows",
    [
        ({}, ["1", "2", "3", "5"]),
        ({"category": Category.PHONE}, ["2"]),
        ({"category": "vin"}, ["1", "3"]),
        ({"country": "de"}, ["3"]),
        ({"country": "KZ"}, []),
        ({"host": "Telematics.Example.CN"}, ["1", "2", "5"]),
        ({"rule_id": "KZ-LOC-PHONE"}, ["2"]),
        ({"category": "vin", "country": "CN"}, ["1"]),
    ],
)
def test_query_violations_filters(
    filled: tuple[FindingStore, int, int], filters: dict, flows: list[str]
) -> None:
    store, _, _ = filled
    got = store.query_violations(**filters)
    assert [s.finding.flow_id for s in got] == flows
    assert store.count(violation=True, **filters) == len(flows)


def test_query_violations_by_run(filled: tuple[FindingStore, int, int]) -> None:
    store, a, b = filled
    assert [s.finding.flow_id for s in store.query_violations(run_id=b)] == ["5"]
    assert all(s.run_id == a for s in store.query_violations(run_id=a))


def test_query_findings_includes_non_violations(filled: tuple[FindingStore, int, int]) -> None:
    store, _, _ = filled
    assert [s.finding.flow_id for s in store.query_findings(violation=False)] == ["4"]
    assert store.count() == 5


def test_paging_by_id_walks_every_row_once(filled: tuple[FindingStore, int, int]) -> None:
    store, _, _ = filled
    seen: list[int] = []
    after: int | None = None
    while page := store.query_violations(after_id=after, limit=2):
        seen += [s.id for s in page]
        after = page[-1].id
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 4


def test_stored_finding_reads_back_equal(store: FindingStore) -> None:
    run_id = store.start_run("replay")
    finding = build_finding()
    store.add(run_id, [finding], [])
    (stored,) = store.query_findings()
    assert stored.finding == finding
    assert stored.run_id == run_id


def test_unknown_category_filter_is_a_value_error(store: FindingStore) -> None:
    with pytest.raises(ValueError):
        store.query_violations(category="shoe_size")


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_limit_out_of_range_is_refused(store: FindingStore, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.query_violations(limit=limit)


def test_summary_counts_violations_by_country_host_category(
    filled: tuple[FindingStore, int, int],
) -> None:
    store, a, _ = filled
    assert store.summary() == [
        SummaryRow("CN", "telematics.example.cn", Category.LOCATION, 1),
        SummaryRow("CN", "telematics.example.cn", Category.PHONE, 1),
        SummaryRow("CN", "telematics.example.cn", Category.VIN, 1),
        SummaryRow("DE", "maps.example.de", Category.VIN, 1),
    ]
    assert [r.category for r in store.summary(a)] == [Category.PHONE, Category.VIN, Category.VIN]


def test_summary_orders_by_count(store: FindingStore) -> None:
    run_id = store.start_run("replay")
    store.add(
        run_id,
        [build_finding(flow_id=str(i), category=Category.PHONE) for i in range(3)]
        + [build_finding(flow_id="x")],
        [],
    )
    assert [(r.category, r.count) for r in store.summary()] == [
        (Category.PHONE, 3),
        (Category.VIN, 1),
    ]
