"""``/findings``: every finding (violations and domestic ones), its evidence, and exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from shekara.api import geoevidence, queries
from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.cursor import encode_keyset
from shekara.api.deps import StoreDep
from shekara.api.export import EXPORT_RESPONSES, FINDING_COLUMNS, ExportFormat, export
from shekara.api.filters import MAX_ID, FindingFilter, FindingFilterDep
from shekara.api.schemas import (
    FindingEvidence,
    FindingPublic,
    FlowEvidence,
    GeoEvidence,
    GeolocationEvidence,
    HashEvidence,
    Page,
)
from shekara.api.views import (
    after_cursor,
    finding_public,
    flow_metadata_public,
    sessions_public,
    utc,
)
from shekara.evidence.chain import link_hex
from shekara.evidence.rows import row_to_finding
from shekara.evidence.store import FindingStore

router = APIRouter(
    prefix="/findings",
    tags=["findings"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

MAX_PAGE = 1000
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="rows a page")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next` of the previous page")]
Sort = Annotated[
    queries.FindingSort,
    Query(description="order, ties broken by id; a leading '-' reverses it"),
]
Format = Annotated[ExportFormat, Query(description="csv or a JSON array")]
# Beyond this many matches a page's count stops (count_exact: false) unless asked.
COUNT_BOUND = 10_000
ExactCount = Annotated[
    bool,
    Query(description=f"count every match (slow on large stores) instead of up to {COUNT_BOUND}"),
]


def page_of_findings(
    store: FindingStore,
    flt: FindingFilter,
    sort: str,
    limit: int,
    cursor: str | None,
    exact_count: bool,
) -> Page[FindingPublic]:
    types: tuple[type, ...] = (int,) if sort.lstrip("-") == "id" else (float, int)
    after = after_cursor(cursor, sort, types)
    # One row more than asked tells whether a next page exists without a second query.
    rows = queries.finding_page(store.engine, flt, sort, after, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    count, exact = queries.count_findings(store.engine, flt, None if exact_count else COUNT_BOUND)
    return Page[FindingPublic](
        data=[finding_public(row) for row in rows],
        count=count,
        count_exact=exact,
        next=encode_keyset(sort, queries.finding_key(rows[-1], sort)) if has_more else None,
    )


@router.get("", response_model=Page[FindingPublic])
def list_findings(
    store: StoreDep,
    flt: FindingFilterDep,
    sort: Sort = "id",
    limit: Limit = 100,
    cursor: Cursor = None,
    exact_count: ExactCount = False,
) -> Page[FindingPublic]:
    """Findings matching every filter; follow ``next`` until it is null."""
    return page_of_findings(store, flt, sort, limit, cursor, exact_count)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_findings(
    store: StoreDep, flt: FindingFilterDep, sort: Sort = "id", format: Format = "csv"
) -> StreamingResponse:
    """Every finding matching the filters, streamed as CSV or a JSON array."""
    stmt = queries.findings_select(flt, sort, None)
    return export(queries.stream(store.engine, stmt), FINDING_COLUMNS, format, "findings")


def geo_evidence(engine: Engine, row: RowMapping) -> GeolocationEvidence | None:
    """The session's geolocation evidence for the server the finding went to."""
    dest = geoevidence.of_finding(engine, row["run_id"], row["host"], row["ip"])
    return geoevidence.geolocation(dest) if dest is not None else None


@router.get("/{finding_id}", response_model=FindingEvidence, responses={404: {}})
def finding_evidence(
    store: StoreDep, finding_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> FindingEvidence:
    """One finding with the evidence behind it: locator, masked value, hashes, flow, geo."""
    row = queries.get_finding(store.engine, finding_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such finding")
    stored = row_to_finding(row)
    count, notes = queries.flow_context(store.engine, row["run_id"], row["flow_id"])
    meta_row = queries.flow_metadata(store.engine, row["run_id"], row["flow_id"])
    session_row = queries.get_session(store.engine, row["run_id"])
    session = sessions_public(store.engine, [session_row])[0] if session_row else None
    return FindingEvidence(
        finding=FindingPublic.from_stored(stored),
        locator=row["field"],
        source=row["source"],
        preview=row["preview"],
        hashes=HashEvidence(
            value_hash=row["value_hash"],
            record_hash=link_hex(row["record_hash"]),
            prev_hash=link_hex(row["prev_hash"]),
            seq=row["seq"],
        ),
        flow=FlowEvidence(
            flow_id=row["flow_id"],
            session=row["run_id"],
            host=row["host"],
            ip=row["ip"],
            port=row["port"],
            sni=row["sni"],
            observed_at=utc(row["observed_at"]),  # type: ignore[arg-type]
            recorded_at=utc(row["recorded_at"]),  # type: ignore[arg-type]
            findings_in_flow=count,
            notes=[{"source": n["source"], "reason": n["reason"]} for n in notes],
            **flow_metadata_public(meta_row),
        ),
        geolocation=GeoEvidence(
            country=row["country"],
            city=row["city"],
            asn=row["asn"],
            org=row["org"],
            source=row["geo_source"],
            build=row["geo_build"],
            confidence=row["geo_confidence"],
            private=bool(row["private"]),
            evidence=geo_evidence(store.engine, row),
        ),
        session=session,
    )
