"""Findings and notes survive the trip to a row and back, normalised where documented."""

from __future__ import annotations

from dataclasses import replace

from shekara.audit.model import Destination
from shekara.evidence.rows import finding_to_row, note_to_row, row_to_finding, row_to_note

from .conftest import FOREIGN, build_finding, build_note


def test_finding_round_trip() -> None:
    finding = build_finding()
    row = finding_to_row(7, finding) | {"id": 42}
    stored = row_to_finding(row)
    assert (stored.id, stored.run_id) == (42, 7)
    assert stored.finding == finding


def test_row_holds_strings_not_enums() -> None:
    row = finding_to_row(1, build_finding())
    assert type(row["category"]) is str
    assert type(row["verdict"]) is str
    assert row["legal_refs"] == ["KZ-PDL-12(2)", "KZ-PDL-16"]


def test_host_and_country_are_normalised() -> None:
    dest = replace(FOREIGN, host="API.Example.CN", sni="Api.Example.cn", country="cn")
    row = finding_to_row(1, build_finding(destination=dest))
    assert (row["host"], row["sni"], row["country"]) == ("api.example.cn", "api.example.cn", "CN")


def test_row_has_no_plain_value_column() -> None:
    row = finding_to_row(1, build_finding())
    assert not {"value", "canonical", "plain"} & row.keys()


def test_note_round_trip_with_destination() -> None:
    note = build_note()
    stored = row_to_note(note_to_row(3, note) | {"id": 5})
    assert (stored.id, stored.run_id) == (5, 3)
    assert stored.note.reason == note.reason
    assert stored.note.destination == Destination(
        host=FOREIGN.host, ip=FOREIGN.ip, port=None, country=FOREIGN.country
    )


def test_note_round_trip_without_destination() -> None:
    note = build_note(destination=None)
    stored = row_to_note(note_to_row(3, note) | {"id": 5})
    assert stored.note == note
