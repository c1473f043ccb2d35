"""``GET /violations``: findings judged a violation, filtered and paged by a cursor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from shekara.api.cursor import InvalidCursorError, decode_cursor, encode_cursor
from shekara.api.deps import StoreDep
from shekara.api.schemas import FindingPublic, Page
from shekara.audit.model import Category

router = APIRouter(prefix="/violations", tags=["violations"])

MAX_PAGE = 1000


@router.get("", response_model=Page[FindingPublic])
def list_violations(
    store: StoreDep,
    category: Annotated[Category | None, Query(description="category id")] = None,
    country: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 of the destination"),
    ] = None,
    host: Annotated[str | None, Query(min_length=1, max_length=253)] = None,
    run_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    rule: Annotated[str | None, Query(min_length=1, max_length=200, description="rule id")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="`next` of a page")] = None,
) -> Page[FindingPublic]:
    """List violations by ascending id; follow ``next`` until it is null."""
    after_id: int | None = None
    if cursor is not None:
        try:
            after_id = decode_cursor(cursor)
        except InvalidCursorError as exc:
            raise HTTPException(
                status_code=422,
                detail=[{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}],
            ) from exc
    filters: dict[str, Any] = {
        "run_id": run_id,
        "category": category,
        "country": country,
        "host": host,
        "rule_id": rule,
    }
    # One row more than asked tells whether a next page exists without a second query.
    rows = store.query_violations(after_id=after_id, limit=limit + 1, **filters)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page[FindingPublic](
        data=[FindingPublic.from_stored(r) for r in rows],
        count=store.count(violation=True, **filters),
        next=encode_cursor(rows[-1].id) if has_more else None,
    )
