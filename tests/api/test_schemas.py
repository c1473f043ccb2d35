"""Public schemas carry preview and hash, never a plain value, with times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from shekara.api.schemas import DestinationPublic, FindingPublic, Page
from shekara.evidence.rows import StoredFinding

from .conftest import CN, build_finding


def test_finding_public_from_stored() -> None:
    finding = build_finding()
    public = FindingPublic.from_stored(StoredFinding(id=3, run_id=2, finding=finding))
    assert (public.id, public.run_id, public.flow_id) == (3, 2, "flow")
    assert public.destination == DestinationPublic.from_destination(CN)
    assert public.observed_at == datetime.fromtimestamp(1_700_000_000.0, tz=UTC)
    assert public.legal_refs == ["KZ-PDL-12(2)"]


def test_public_finding_has_no_plain_value_field() -> None:
    fields = set(FindingPublic.model_fields)
    assert {"preview", "value_hash"} <= fields
    assert not {"value", "canonical", "plain", "plain_value"} & fields


def test_page_serialises_data_count_next() -> None:
    page = Page[int](data=[1, 2], count=5, next="abc")
    assert page.model_dump() == {"data": [1, 2], "count": 5, "count_exact": True, "next": "abc"}
