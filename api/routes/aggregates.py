"""``/aggregates``: findings counted by country, category, vendor, host, session or time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shekara.api import queries
from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.deps import StoreDep
from shekara.api.filters import FindingFilterDep
from shekara.api.schemas import AggregateRow, Page
from shekara.api.views import utc

router = APIRouter(
    prefix="/aggregates",
    tags=["aggregates"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

MAX_GROUPS = 10_000


@router.get("", response_model=Page[AggregateRow])
def aggregates(
    store: StoreDep,
    flt: FindingFilterDep,
    by: Annotated[
        list[queries.GroupBy],
        Query(
            min_length=1,
            max_length=3,
            description="group keys (repeatable); day and hour are UTC bucket starts (epoch s)",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_GROUPS)] = 1000,
) -> Page[AggregateRow]:
    """Counts per group, most findings first; ``count`` is the number of groups."""
    keys = list(dict.fromkeys(by))
    rows, count = queries.aggregate(store.engine, flt, keys, limit)
    return Page[AggregateRow](
        data=[
            AggregateRow(
                key=row["key"],
                findings=row["findings"],
                violations=row["violations"],
                first_seen=utc(row["first_seen"]),  # type: ignore[arg-type]
                last_seen=utc(row["last_seen"]),  # type: ignore[arg-type]
            )
            for row in rows
        ],
        count=count,
        next=None,
    )
