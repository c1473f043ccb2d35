"""The store's tables carry the indexes and constraints the store and API rely on."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from shekara.evidence import schema
from shekara.evidence.rows import dedup_key, finding_to_row
from shekara.evidence.store import FindingStore

from .conftest import build_finding, build_note


def test_tables_exist(store: FindingStore) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"runs", "findings", "notes"} <= names


@pytest.mark.parametrize("column", ["category", "country", "host", "violation", "run_id"])
def test_filter_columns_lead_an_index(store: FindingStore, column: str) -> None:
    indexes = inspect(store.engine).get_indexes("findings")
    assert any(ix["column_names"][0] == column for ix in indexes), indexes


@pytest.mark.parametrize("table", ["findings", "notes"])
def test_rows_are_unique_on_run_and_dedup_key(store: FindingStore, table: str) -> None:
    uniques = inspect(store.engine).get_unique_constraints(table)
    assert ["run_id", "dedup_key"] in [u["column_names"] for u in uniques]


def test_dedup_key_names_flow_field_and_category() -> None:
    row = finding_to_row(1, build_finding())
    assert row["dedup_key"] == dedup_key("flow-1", "request.body:$.vehicle.vin", "vin")
    assert len(row["dedup_key"]) == 64
    # Another run, preview or hash does not make another finding; another key part does.
    assert finding_to_row(2, build_finding(preview="x"))["dedup_key"] == row["dedup_key"]
    assert finding_to_row(1, build_finding(field="x"))["dedup_key"] != row["dedup_key"]
    assert dedup_key("a|b", "c") != dedup_key("a", "b|c")


def test_a_field_longer_than_an_index_entry_is_stored_once(store: FindingStore) -> None:
    # A hostile body can nest keys far past PostgreSQL's ~2.7 KB btree entry
    # limit: the uniqueness is on a hash, so such a finding is stored, once.
    run_id = store.start_run("replay")
    field = "request.body:$." + ".".join(f"k{i:05d}" for i in range(2000))
    assert len(field) > 10_000
    store.add(run_id, [build_finding(field=field)], [build_note(reason="x" * 20_000)])
    store.add(run_id, [build_finding(field=field)], [build_note(reason="x" * 20_000)])
    assert store.count() == 1
    assert store.count_notes() == 1
    assert store.query_findings()[0].finding.field == field


def test_plain_insert_of_duplicate_is_refused_by_the_database(store: FindingStore) -> None:
    # The constraint itself, not only the store's ON CONFLICT, keeps duplicates out.
    run_id = store.start_run("replay")
    row = finding_to_row(run_id, build_finding())
    with store.engine.begin() as conn:
        conn.execute(schema.findings.insert(), [row])
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(schema.findings.insert(), [row])


@pytest.mark.parametrize(
    "column, bad",
    [("verdict", "abroad"), ("confidence", "certain"), ("geo_confidence", "sure")],
)
def test_check_constraints_refuse_unknown_enum_values(
    store: FindingStore, column: str, bad: str
) -> None:
    run_id = store.start_run("replay")
    row = finding_to_row(run_id, build_finding()) | {column: bad}
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(schema.findings.insert(), [row])


def test_run_kind_is_checked(store: FindingStore) -> None:
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(schema.runs.insert().values(kind="guess", started_at=0.0, status="running"))
