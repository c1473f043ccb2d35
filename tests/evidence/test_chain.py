"""The chain's pure parts: canonical bytes, record and genesis hashes, the signed statement."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import JSON, Boolean, Float, Integer, String

from shekara.evidence import chain, schema
from shekara.evidence.rows import finding_to_row

from .conftest import build_finding

PREV = "ab" * 32


def _row(**overrides: Any) -> dict[str, Any]:
    row = finding_to_row(7, build_finding())
    row["seq"] = 3
    row.update(overrides)
    return row


# -- what is chained -------------------------------------------------------------


def test_every_findings_column_is_chained_or_deliberately_left_out() -> None:
    # A column added to the schema must be placed here on purpose, or this fails.
    columns = {c.name for c in schema.findings.columns}
    assert set(chain.FINDING_COLUMNS) | set(chain.UNCHAINED_COLUMNS) == columns
    assert not set(chain.FINDING_COLUMNS) & set(chain.UNCHAINED_COLUMNS)


def test_column_kinds_agree_with_the_schema() -> None:
    expected = {Boolean: "bool", Float: "float", Integer: "int", JSON: "json", String: "str"}
    for name, kind in chain.FINDING_COLUMNS.items():
        column_type = schema.findings.c[name].type
        matches = [k for t, k in expected.items() if isinstance(column_type, t)]
        assert matches == [kind], name


def test_statement_fields_are_runs_columns() -> None:
    columns = {c.name for c in schema.runs.columns}
    assert {column for column, _ in chain.STATEMENT_RUN_FIELDS.values()} <= columns
    # Retention changes these after closing: signing them would break the statement.
    signed = {column for column, _ in chain.STATEMENT_RUN_FIELDS.values()}
    assert not signed & {"raw_evidence_path", "raw_evidence_deleted_at"}


# -- canonical bytes ---------------------------------------------------------------


def test_canonical_form_is_sorted_compact_ascii_json() -> None:
    data = chain.canonical_record(_row(field="request.body:$.имя"))
    assert data.isascii()
    decoded = json.loads(data)
    assert list(decoded) == sorted(decoded)
    assert data == json.dumps(decoded, sort_keys=True, separators=(",", ":")).encode()
    assert decoded["field"] == "request.body:$.имя"
    assert set(decoded) == set(chain.FINDING_COLUMNS)


def test_canonical_form_ignores_key_order_and_unchained_columns() -> None:
    row = _row()
    reordered = dict(reversed(list(row.items())))
    extra = {**row, "id": 99, "prev_hash": "x", "record_hash": "y", "unrelated": 1}
    assert chain.canonical_record(reordered) == chain.canonical_record(row)
    assert chain.canonical_record(extra) == chain.canonical_record(row)


def test_floats_are_written_with_repr() -> None:
    decoded = chain.canonical_record(_row(observed_at=0.1 + 0.2)).decode()
    assert '"observed_at":0.30000000000000004' in decoded


@pytest.mark.parametrize(
    "column, written, read_back",
    [
        # What the databases hand back for what the store wrote.
        ("violation", True, 1),
        ("private", False, 0),
        ("observed_at", 1_700_000_000, 1_700_000_000.0),
        ("legal_refs", ["KZ-PDL-16"], '["KZ-PDL-16"]'),
        ("legal_refs", [], "[]"),
        ("port", 443, 443),
        ("host", None, None),
    ],
)
def test_database_spellings_of_one_value_hash_alike(
    column: str, written: object, read_back: object
) -> None:
    assert chain.record_hash(PREV, _row(**{column: written}), strict=True) == chain.record_hash(
        PREV, _row(**{column: read_back})
    )


@pytest.mark.parametrize(
    "column, misfit",
    [
        ("violation", 2),  # SQLite would read it back as True through a Boolean type
        ("private", "yes"),
        ("observed_at", "1700000000.5"),
        ("port", 443.0),
        ("port", True),
        ("asn", "4134"),
        ("host", 7),
        ("legal_refs", "not json"),
        ("legal_refs", b"[]"),
        ("seq", "3"),
    ],
)
def test_values_that_do_not_fit_their_column_never_hash_like_a_fitting_one(
    column: str, misfit: object
) -> None:
    honest = {chain.record_hash(PREV, _row())}
    assert chain.record_hash(PREV, _row(**{column: misfit})) not in honest
    with pytest.raises(chain.CanonicalError):
        chain.canonical_record(_row(**{column: misfit}), strict=True)


def test_a_missing_column_is_refused() -> None:
    row = _row()
    del row["preview"]
    with pytest.raises(chain.CanonicalError, match="preview"):
        chain.canonical_record(row)


# -- hashes ------------------------------------------------------------------------


def _changed(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, list):
        return [*value, "X"]
    if value is None:
        return "x"
    return str(value) + "x"


@pytest.mark.parametrize("column", list(chain.FINDING_COLUMNS))
def test_every_chained_column_changes_the_record_hash(column: str) -> None:
    row = _row()
    assert chain.record_hash(PREV, row) != chain.record_hash(
        PREV, {**row, column: _changed(row[column])}
    )


def test_the_record_hash_commits_to_the_previous_hash() -> None:
    row = _row()
    assert chain.record_hash(PREV, row) != chain.record_hash("cd" * 32, row)
    assert len(chain.record_hash(PREV, row)) == 64


@pytest.mark.parametrize("prev", ["zz" * 32, "ab" * 31, "", None])
def test_a_malformed_previous_hash_is_refused(prev: object) -> None:
    with pytest.raises(chain.CanonicalError):
        chain.record_hash(prev, _row())  # type: ignore[arg-type]


def test_genesis_is_bound_to_run_id_and_start() -> None:
    g = chain.genesis_hash(1, 100.0)
    assert g == chain.genesis_hash(1, 100)  # an integer start is the same start
    assert len({g, chain.genesis_hash(2, 100.0), chain.genesis_hash(1, 100.000001)}) == 3


# -- the closing statement ----------------------------------------------------------


def _run(**overrides: Any) -> dict[str, Any]:
    run = {
        "id": 4,
        "kind": "replay",
        "started_at": 100.0,
        "finished_at": 200,
        "status": "completed",
        "error": None,
        "flows_read": 12,
        "capture": "a.mitm",
        "capture_sha256": "cd" * 32,
        "ruleset_name": "kz",
        "ruleset_version": "1+abc",
        "geo_sources": [{"name": "GeoLite2", "build": "2019-12-24"}],
        "tool_version": "0.1.0",
        "raw_evidence_sha256": None,
        "station_key": "k",
    }
    run.update(overrides)
    return run


def test_statement_holds_the_run_facts_and_the_chain() -> None:
    statement = chain.parse_statement(chain.closing_statement(_run(), 5, "ee" * 32))
    assert statement["run_id"] == 4
    assert statement["finished_at"] == 200.0 and isinstance(statement["finished_at"], float)
    assert (statement["chain_length"], statement["chain_head"]) == (5, "ee" * 32)
    assert statement["format"] == chain.STATEMENT_FORMAT
    assert statement["chain"] == chain.CHAIN_FORMAT
    assert statement["geo_sources"] == [{"name": "GeoLite2", "build": "2019-12-24"}]


def test_statement_refuses_run_values_of_the_wrong_type() -> None:
    with pytest.raises(chain.CanonicalError):
        chain.closing_statement(_run(flows_read="12"), 0, "ee" * 32)


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not JSON"),
        ("[]", "not a"),
        ('{"format": "other"}', "not a"),
        (json.dumps({"format": chain.STATEMENT_FORMAT}), "lacks"),
    ],
)
def test_parse_statement_refuses_what_is_not_one(text: str, message: str) -> None:
    with pytest.raises(chain.CanonicalError, match=message):
        chain.parse_statement(text)


def test_signature_round_trip_and_every_change_breaks_it() -> None:
    key = Ed25519PrivateKey.generate()
    public = chain.public_key_text(key)
    assert public == chain.public_key_text(key.public_key())
    statement = chain.closing_statement(_run(station_key=public), 3, "ee" * 32)
    signature = chain.sign(key, statement)
    assert chain.signature_valid(public, statement, signature)
    assert not chain.signature_valid(
        public, statement.replace(b'"flows_read":12', b'"flows_read":13'), signature
    )
    other = chain.public_key_text(Ed25519PrivateKey.generate())
    assert not chain.signature_valid(other, statement, signature)
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert not chain.signature_valid(public, statement, flipped)
    for bad_key, bad_sig in [("!!", signature), (public, "!!"), ("", ""), (public, "AAAA")]:
        assert not chain.signature_valid(bad_key, statement, bad_sig)


def test_fingerprint_is_short_and_stable() -> None:
    public = chain.public_key_text(Ed25519PrivateKey.generate())
    assert chain.key_fingerprint(public) == chain.key_fingerprint(public)
    assert len(chain.key_fingerprint(public)) == 16
    assert len(chain.key_fingerprint("not base64!")) == 16


def test_only_the_canonical_base64_spelling_verifies() -> None:
    # The unused low bits before '=' padding give several spellings of one
    # signature; a changed column must never verify, so only one is accepted.
    key = Ed25519PrivateKey.generate()
    statement = chain.closing_statement(_run(), 0, "ee" * 32)
    signature = chain.sign(key, statement)
    assert signature.endswith("==")
    last = signature[-3]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(last) ^ 1]  # differs only in a discarded bit
    other = signature[:-3] + twin + "=="
    assert base64.b64decode(other) == base64.b64decode(signature)
    assert not chain.signature_valid(chain.public_key_text(key), statement, other)
