"""``/destinations``: the servers findings went to, with the evidence that placed each one.

The list is computed from the findings (so every finding filter applies);
each row carries the geolocation evidence the geo stage recorded for it
(``destinations``): who said which country, the names, the checks, and how
sure the verdict is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from itertools import batched
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import StreamingResponse

from shekara.api import geoevidence, queries
from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.cursor import encode_keyset
from shekara.api.deps import StoreDep
from shekara.api.export import EXPORT_RESPONSES, export
from shekara.api.filters import MAX_ID, FindingFilter, FindingFilterDep
from shekara.api.routes.findings import Cursor, Format, Limit
from shekara.api.schemas import DestinationDetail, DestinationSummary, Page
from shekara.api.views import after_cursor, utc
from shekara.audit.model import Confidence

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
    "confidence",
    "caveats",
    "cdn",
    "sources",
)
# Destinations whose evidence is looked up at a time while an export streams.
EXPORT_BATCH = 500


def _evidence_columns(row: Mapping[Any, Any] | None) -> dict[str, Any]:
    """The geolocation evidence as flat export cells ("source=country; …")."""
    if row is None:
        return {"confidence": None, "caveats": None, "cdn": None, "sources": None}
    geo = geoevidence.geolocation(row)
    return {
        "confidence": str(geo.confidence),
        "caveats": " ".join(geo.caveats),
        "cdn": geo.cdn,
        "sources": "; ".join(f"{a.source}={a.country or 'no answer'}" for a in geo.sources),
    }


def destination_filters(
    flt: FindingFilterDep,
    confidence: Annotated[
        Confidence | None,
        Query(description="confidence of the geolocation the findings were judged on"),
    ] = None,
) -> FindingFilter:
    return replace(flt, geo_confidence=str(confidence) if confidence else None)


DestinationFilterDep = Annotated[FindingFilter, Depends(destination_filters)]


def _public(
    row: Mapping[Any, Any], categories: list[str], evidence: Mapping[Any, Any] | None
) -> DestinationSummary:
    geo = geoevidence.geolocation(evidence) if evidence is not None else None
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
        confidence=geo.confidence if geo else None,
        geolocation=geo,
    )


@router.get("", response_model=Page[DestinationSummary])
def list_destinations(
    store: StoreDep, flt: DestinationFilterDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[DestinationSummary]:
    """Host, IP, country, ASN/org, first and last seen, categories received and the
    geolocation evidence (sources and their answers, names, checks, confidence), by host.

    ``verdict=disputed`` or ``verdict=cdn_edge`` and ``confidence=low`` list the
    destinations whose country must be read with care."""
    after = after_cursor(cursor, "host", (str, str))
    rows = queries.destination_page(store.engine, flt, after, limit + 1)  # type: ignore[arg-type]
    has_more = len(rows) > limit
    rows = rows[:limit]
    cats = queries.destination_categories(store.engine, flt, [row["host_key"] for row in rows])
    pairs = [(row["host_key"], row["ip_key"]) for row in rows]
    evidence = geoevidence.latest(store.engine, pairs, flt.sessions, flt.geo_confidence)
    last = pairs[-1] if pairs else None
    return Page[DestinationSummary](
        data=[
            _public(row, cats.get(key, []), evidence.get(key))
            for row, key in zip(rows, pairs, strict=True)
        ],
        count=queries.count_destinations(store.engine, flt),
        next=encode_keyset("host", last) if has_more and last else None,
    )


@router.get("/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)  # type: ignore[arg-type]
def export_destinations(
    store: StoreDep, flt: DestinationFilterDep, format: Format = "csv"
) -> StreamingResponse:
    """Every destination under the filters, streamed as CSV or a JSON array."""

    def rows() -> Iterator[Mapping[str, Any]]:
        stream = queries.stream(store.engine, queries.destinations_select(flt, None))
        for batch in batched(stream, EXPORT_BATCH):
            pairs = [(row["host_key"], row["ip_key"]) for row in batch]
            evidence = geoevidence.latest(store.engine, pairs, flt.sessions, flt.geo_confidence)
            for row, key in zip(batch, pairs, strict=True):
                yield {
                    **row,
                    "host": row["host_key"] or None,
                    "ip": row["ip_key"] or None,
                    **_evidence_columns(evidence.get(key)),
                }

    return export(rows(), EXPORT_COLUMNS, format, "destinations", None)


@router.get(
    "/{destination_id}",
    response_model=DestinationDetail,
    responses={404: {"description": "no such destination"}},
)
def destination_detail(
    store: StoreDep, destination_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> DestinationDetail:
    """One destination of one session with every piece of its geolocation evidence."""
    row = geoevidence.get(store.engine, destination_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such destination")
    counts = queries.destination_findings(store.engine, row["run_id"], row["host"], row["ip"])
    return DestinationDetail(
        host=row["host"],
        ip=row["ip"],
        sni=row["sni"],
        private=bool(row["private"]),
        findings=sum(n for n, _ in counts.values()),
        violations=sum(v for _, v in counts.values()),
        categories=list(counts),  # type: ignore[arg-type]
        geolocation=geoevidence.geolocation(row),
        evidence=geoevidence.items(row["evidence"]),
    )
