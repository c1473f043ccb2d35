"""The store's tables carry the indexes and constraints the store and API rely on."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from shekara.evidence import schema
from shekara.evidence.rows import finding_to_row
from shekara.evidence.store import FindingStore

from .conftest import build_finding


def test_tables_exist(store: FindingStore) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"runs", "findings", "notes"} <= names


@pytest.mark.parametrize("column", ["category", "country", "host", "violation", "run_id"])
def test_filter_columns_lead_an_index(store: FindingStore, column: str) -> None:
    indexes = inspect(store.engine).get_indexes("findings")
    assert any(ix["column_names"][0] == column for ix in indexes), indexes


def test_findings_unique_on_run_flow_field_category(store: FindingStore) -> None:
    uniques = inspect(store.engine).get_unique_constraints("findings")
    assert ["run_id", "flow_id", "field", "category"] in [u["column_names"] for u in uniques]


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
