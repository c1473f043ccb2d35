"""``/destinations``: the servers findings went to, computed from the findings themselves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from shekara.api import queries
from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.cursor import encode_keyset
from shekara.api.deps import StoreDep
from shekara.api.export import EXPORT_RESPONSES, export
from shekara.api.filters import FindingFilterDep
from shekara.api.routes.findings import Cursor, Format, Limit
from shekara.api.schemas import DestinationSummary, Page
from shekara.api.views import after_cursor, utc

router = APIRouter(
    prefix="/destinations",
    tags=["destinations"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

EXPORT_COLUMNS = (
    "host",
    "ip",
    "country",
    "city",
    "asn",
    "org",
    "geo_source",
    "first_seen",
    "last_seen",
    "findings",
    "violations",
    "sessions",
)


def _public(row: Mapping[Any, Any], categories: list[str]) -> DestinationSummary:
    return DestinationSummary(
        host=row["host_key"] or None,
        ip=row["ip_key"] or None,
        country=row["country"],
        city=row["city"],
        asn=row["asn"],
        org=row["org"],
        geo_source=row["geo_source"],
        first_seen=utc(row["first_seen"]),  # type: ignore[arg-type]
        last_seen=utc(row["last_seen"]),  # type: ignore[arg-type]
        findings=int(row["findings"]),
        violations=int(row["violations"] or 0),
        sessions=int(row["sessions"]),
        categories=categories,  # type: ignore[arg-type]
    )


@router.get("", response_model=Page[DestinationSummary])
def list_destinations(
    store: StoreDep, flt: FindingFilterDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[DestinationSummary]:
    """Host, IP, country, ASN/org, first and last seen and categories received, by host."""
    after = after_cursor(cursor, "host", (str, str))
    rows = queries.destination_page(store.engine, flt, after, limit + 1)  # type: ignore[arg-type]
    has_more = len(rows) > limit
    rows = rows[:limit]
    cats = queries.destination_categories(store.engine, flt, [row["host_key"] for row in rows])
    last = (rows[-1]["host_key"], rows[-1]["ip_key"]) if rows else None
    return Page[DestinationSummary](
        data=[_public(row, cats.get((row["host_key"], row["ip_key"]), [])) for row in rows],
        count=queries.count_destinations(store.engine, flt),
        next=encode_keyset("host", last) if has_more and last else None,
    )


@router.get("/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)  # type: ignore[arg-type]
def export_destinations(
    store: StoreDep, flt: FindingFilterDep, format: Format = "csv"
) -> StreamingResponse:
    """Every destination under the filters, streamed as CSV or a JSON array."""

    def rows() -> Iterator[Mapping[str, Any]]:
        for row in queries.stream(store.engine, queries.destinations_select(flt, None)):
            yield {**row, "host": row["host_key"] or None, "ip": row["ip_key"] or None}

    return export(rows(), EXPORT_COLUMNS, format, "destinations", None)
