"""``/violations``: findings judged a cross-border transfer observed (``violation: true``).

The same listing as ``/findings?violation=true``, kept under the name officials use.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from shekara.api import queries
from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.deps import StoreDep
from shekara.api.export import EXPORT_RESPONSES, FINDING_COLUMNS, export
from shekara.api.filters import ViolationFilterDep
from shekara.api.routes.findings import (
    Cursor,
    ExactCount,
    Format,
    Limit,
    Sort,
    page_of_findings,
)
from shekara.api.schemas import FindingPublic, Page

router = APIRouter(
    prefix="/violations",
    tags=["violations"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

MAX_PAGE = 1000


@router.get("", response_model=Page[FindingPublic])
def list_violations(
    store: StoreDep,
    flt: ViolationFilterDep,
    sort: Sort = "id",
    limit: Limit = 100,
    cursor: Cursor = None,
    exact_count: ExactCount = False,
) -> Page[FindingPublic]:
    """Violations matching every filter; follow ``next`` until it is null."""
    return page_of_findings(store, flt, sort, limit, cursor, exact_count)


@router.get("/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)  # type: ignore[arg-type]
def export_violations(
    store: StoreDep, flt: ViolationFilterDep, sort: Sort = "id", format: Format = "csv"
) -> StreamingResponse:
    """Every violation matching the filters, streamed as CSV or a JSON array."""
    stmt = queries.findings_select(flt, sort, None)
    return export(queries.stream(store.engine, stmt), FINDING_COLUMNS, format, "violations")
