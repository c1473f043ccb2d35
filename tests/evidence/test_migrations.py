"""Alembic migrations on SQLite and PostgreSQL: the migrated schema is ``schema.metadata``."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from shekara.evidence import migrations, schema
from shekara.evidence.store import FindingStore, StoreError

from .conftest import build_finding, build_note


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _run_on(store: FindingStore, *args: str) -> None:
    """Run an Alembic command (e.g. downgrade) on the store's own connection."""
    with store.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # As migrations.upgrade does: a rebuilt runs table must not cascade.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            cfg = migrations.config()
            cfg.attributes["connection"] = conn
            getattr(command, args[0])(cfg, *args[1:])
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def test_revisions_form_one_line_to_one_head() -> None:
    scripts = ScriptDirectory.from_config(migrations.config())
    assert scripts.get_heads() == [migrations.head()]
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].down_revision is None
    assert all(not r.is_merge_point and not r.is_branch_point for r in revisions)


def test_migrated_schema_equals_the_metadata(db_url: str) -> None:
    store = FindingStore(db_url)
    assert store.schema_revision() is None
    assert store.create_schema() == migrations.head()
    with store.engine.connect() as conn:
        assert migrations.differences(conn) == []
    assert _tables(store.engine) == set(schema.metadata.tables) | {"alembic_version"}
    store.dispose()


def test_differences_do_see_a_drifted_schema(db_url: str) -> None:
    # The comparison above can fail: a column lost after migrating is reported.
    store = FindingStore(db_url)
    store.create_schema()
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE runs DROP COLUMN station_key"))
    with store.engine.connect() as conn:
        diff = migrations.differences(conn)
    assert any(d[0] == "add_column" and d[3].name == "station_key" for d in diff), diff
    store.dispose()


def test_upgrading_twice_is_a_no_op(store: FindingStore) -> None:
    run_id = store.start_run("replay")
    store.add(run_id, [build_finding()], [build_note()])
    before = _tables(store.engine)
    assert store.create_schema() == migrations.head()
    assert store.create_schema() == migrations.head()
    assert _tables(store.engine) == before
    with store.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert migrations.differences(conn) == []
    assert [v for (v,) in versions] == [migrations.head()]
    assert (store.count(), store.count_notes()) == (1, 1)


@pytest.mark.timeout(120)
def test_concurrent_upgrades_take_turns(db_url: str) -> None:
    # Several stations starting at once against one new database: every one
    # of them must come up, and the schema must be created exactly once.
    stores = [FindingStore(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[object] = []

    def start(s: FindingStore) -> None:
        barrier.wait(10)
        try:
            results.append(s.create_schema())
        except Exception as exc:  # collected: the assertion below names it
            results.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [migrations.head()] * len(stores)
    stores[0].add(stores[0].start_run("proxy"), [build_finding()], [])
    assert stores[1].count() == 1
    for s in stores:
        s.dispose()


def test_downgrade_to_base_and_upgrade_again(store: FindingStore) -> None:
    _run_on(store, "downgrade", "base")
    assert _tables(store.engine) <= {"alembic_version"}
    assert store.schema_revision() is None
    assert store.create_schema() == migrations.head()
    store.check()


def test_a_store_created_before_migrations_is_adopted(db_url: str) -> None:
    store = FindingStore(db_url)
    schema.metadata.create_all(store.engine)  # how stores were made before Alembic
    run_id = store.start_run("replay")
    store.add(run_id, [build_finding()], [])
    assert store.create_schema() == migrations.head()
    assert store.schema_revision() == migrations.head()
    assert store.count() == 1
    store.dispose()


def test_foreign_tables_without_history_are_refused(db_url: str) -> None:
    store = FindingStore(db_url)
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)"))
    with pytest.raises(StoreError, match="without a migration history"):
        store.create_schema()
    # Nothing was changed or stamped.
    assert _tables(store.engine) == {"runs"}
    store.dispose()


def test_a_revision_from_a_newer_version_is_refused(store: FindingStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    with pytest.raises(StoreError, match="ffff_future"):
        store.create_schema()
    with pytest.raises(StoreError, match="shekara db upgrade"):
        store.check()


def test_check_refuses_a_store_behind_head(store: FindingStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(StoreError, match="revision none"):
        store.check()


def test_hex_links_of_an_older_store_become_bytes_and_still_verify(
    store: FindingStore,
) -> None:
    """Revision 0008 stores the chain links as raw bytes; chains written before stay valid."""
    import json

    from sqlalchemy import insert, select, update

    from shekara.evidence import chain, verify
    from shekara.evidence.rows import finding_to_row

    _run_on(store, "downgrade", "0002")
    with store.engine.begin() as conn:
        started = 1_700_000_000.5
        store_run = conn.execute(
            insert(schema.runs).values(
                kind="replay",
                started_at=started,
                flows_read=0,
                status="running",
                chain_length=0,
            )
        ).inserted_primary_key
        run_id = int(store_run[0])
        prev = chain.genesis_hash(run_id, started)
        hexes = []
        for i in range(3):
            row = finding_to_row(run_id, build_finding(flow_id=f"flow-{i}"))
            row.update(seq=i + 1, prev_hash=prev)
            row["record_hash"] = chain.record_hash(prev, row)
            # Written as the older revision did: 64 hex digits in text columns.
            conn.execute(
                text(
                    "INSERT INTO findings ("
                    + ", ".join(row)
                    + ") VALUES ("
                    + ", ".join(f":{k}" for k in row)
                    + ")"
                ),
                {
                    k: (v if not isinstance(v, list | tuple) else json.dumps(v))
                    for k, v in row.items()
                },
            )
            prev = row["record_hash"]
            hexes.append(prev)
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == run_id)
            .values(chain_length=3, chain_head=prev)
        )
    store.create_schema()
    with store.engine.connect() as conn:
        stored = conn.execute(
            select(schema.findings.c.record_hash)
            .where(schema.findings.c.run_id == run_id)
            .order_by(schema.findings.c.seq)
        ).scalars()
        assert [bytes(v).hex() for v in stored] == hexes
    (report,) = verify.verify_store(store, run_id)
    assert report.ok, report.describe()
    assert report.length == 3
    _run_on(store, "downgrade", "0002")
    with store.engine.connect() as conn:
        back = conn.execute(text("SELECT record_hash FROM findings ORDER BY seq")).scalars().all()
    assert back == hexes


def test_upgrading_keeps_the_findings_of_rebuilt_tables(store: FindingStore) -> None:
    """Revision 0002 rebuilds ``runs`` on SQLite; enforced foreign keys would cascade."""
    run_id = store.start_run("replay")
    store.add(run_id, [build_finding(flow_id=f"f-{i}") for i in range(5)], [])
    _run_on(store, "downgrade", "0001")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM findings")).scalar_one() == 5
    store.create_schema()
    assert store.count() == 5
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            # Enforcement is back on for the connections the store goes on using.
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
