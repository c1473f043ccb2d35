"""``/sessions``: test sessions (runs) with vehicle, firmware, scenario and markers."""

from __future__ import annotations

import importlib.util
import time
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response, StreamingResponse

from shekara.api import queries, sessions
from shekara.api.auth import AUTH_RESPONSES, BODY_RESPONSES, READ, SessionManager, require
from shekara.api.cursor import encode_keyset
from shekara.api.deps import SettingsDep, StoreDep
from shekara.api.export import EXPORT_RESPONSES, export
from shekara.api.filters import MAX_ID, Vin, epoch, vin_hash
from shekara.api.routes.findings import Cursor, Format, Limit
from shekara.api.schemas import (
    CoverageMarker,
    HostCoveragePublic,
    MarkerCreate,
    MarkerPublic,
    Page,
    SessionCoveragePublic,
    SessionDetail,
    SessionPublic,
    SessionUpdate,
)
from shekara.api.views import after_cursor, marker_public, sessions_public, utc
from shekara.evidence import schema
from shekara.evidence.connections import NOT_OBSERVED

router = APIRouter(
    prefix="/sessions",
    tags=["sessions"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

SessionId = Annotated[int, Path(ge=1, le=MAX_ID)]
Sort = Annotated[queries.SessionSort, Query(description="order; a leading '-' reverses it")]
Make = Annotated[str | None, Query(min_length=1, max_length=100, description="vehicle make")]
Model = Annotated[str | None, Query(min_length=1, max_length=100)]
SESSION_EXPORT_COLUMNS = (
    "id",
    "kind",
    "status",
    "started_at",
    "finished_at",
    "capture",
    "capture_sha256",
    "ruleset_name",
    "ruleset_version",
    "flows_read",
    "firmware",
    "scenario",
    "vehicle_id",
    "vin_preview",
    "make",
    "model",
    "chain_length",
    "chain_head",
)


def session_filters(
    settings: SettingsDep,
    vehicle: Annotated[int | None, Query(ge=1, le=MAX_ID, description="vehicle id")] = None,
    vendor: Make = None,
    model: Model = None,
    vin: Vin = None,
    firmware: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    status: Annotated[Literal[schema.RUN_STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
    kind: Annotated[Literal[schema.RUN_KINDS] | None, Query()] = None,  # type: ignore[valid-type]
    since: Annotated[datetime | None, Query(description="started at or after")] = None,
    until: Annotated[datetime | None, Query(description="started before")] = None,
) -> queries.SessionFilter:
    return queries.SessionFilter(
        vehicle=vehicle,
        vendor=vendor,
        model=model,
        vin_hash=vin_hash(settings.hashing_key_file, vin) if vin is not None else None,
        firmware=firmware,
        status=status,
        kind=kind,
        since=epoch(since),
        until=epoch(until),
    )


SessionFilterDep = Annotated[queries.SessionFilter, Depends(session_filters)]


@router.get("", response_model=Page[SessionPublic])
def list_sessions(
    store: StoreDep,
    flt: SessionFilterDep,
    sort: Sort = "id",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SessionPublic]:
    """Sessions matching every filter, with their finding and violation counts."""
    types: tuple[type, ...] = (int,) if sort.lstrip("-") == "id" else (float, int)
    after = after_cursor(cursor, sort, types)
    rows = queries.session_page(store.engine, flt, sort, after, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page[SessionPublic](
        data=sessions_public(store.engine, rows),
        count=queries.count_sessions(store.engine, flt),
        next=encode_keyset(sort, queries.session_key(rows[-1], sort)) if has_more else None,
    )


@router.get("/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)  # type: ignore[arg-type]
def export_sessions(
    store: StoreDep, flt: SessionFilterDep, sort: Sort = "id", format: Format = "csv"
) -> StreamingResponse:
    """Every session matching the filters, streamed as CSV or a JSON array."""
    stmt = queries.sessions_select(flt, sort, None)
    return export(queries.stream(store.engine, stmt), SESSION_EXPORT_COLUMNS, format, "sessions")


def _detail(store: StoreDep, run_id: int) -> SessionDetail:
    row = queries.get_session(store.engine, run_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    public = sessions_public(store.engine, [row])[0]
    return SessionDetail(
        **public.model_dump(),
        error=row["error"],
        markers=[marker_public(m) for m in queries.markers(store.engine, run_id)],
    )


@router.get("/{session_id}", response_model=SessionDetail, responses={404: {}})
def get_session(store: StoreDep, session_id: SessionId) -> SessionDetail:
    """One session with its vehicle, counts and markers."""
    return _detail(store, session_id)


def _claim(store: StoreDep, session_id: int, key: SessionManager) -> None:
    try:
        sessions.claim(store.engine, session_id, key)
    except sessions.NotFoundError as exc:
        raise HTTPException(status_code=404, detail="no such session") from exc
    except sessions.NotOwnerError as exc:
        raise HTTPException(status_code=403, detail="another engineer manages it") from exc


@router.patch("/{session_id}", response_model=SessionDetail, responses={404: {}, **BODY_RESPONSES})
def update_session(
    key: SessionManager, store: StoreDep, session_id: SessionId, body: SessionUpdate
) -> SessionDetail:
    """Record the session's vehicle, firmware or scenario (engineer who owns it, or admin)."""
    _claim(store, session_id, key)
    try:
        sessions.update_session(store.engine, session_id, body.model_dump(exclude_unset=True))
    except sessions.NotFoundError as exc:
        raise HTTPException(status_code=404, detail="no such vehicle") from exc
    return _detail(store, session_id)


@router.get("/{session_id}/markers", response_model=list[MarkerPublic], responses={404: {}})
def list_markers(store: StoreDep, session_id: SessionId) -> list[MarkerPublic]:
    """The session's markers in time order."""
    if queries.get_session(store.engine, session_id) is None:
        raise HTTPException(status_code=404, detail="no such session")
    return [marker_public(m) for m in queries.markers(store.engine, session_id)]


@router.post(
    "/{session_id}/markers",
    response_model=MarkerPublic,
    status_code=201,
    responses={404: {}, **BODY_RESPONSES},
)
def add_marker(
    key: SessionManager, store: StoreDep, session_id: SessionId, body: MarkerCreate
) -> MarkerPublic:
    """Mark what the engineer did now, or at ``at`` (engineer who owns it, or admin)."""
    _claim(store, session_id, key)
    at = epoch(body.at) if body.at is not None else time.time()
    marker_id = sessions.add_marker(store.engine, session_id, at, body.label)  # type: ignore[arg-type]
    return MarkerPublic(id=marker_id, run_id=session_id, at=utc(at), label=body.label)  # type: ignore[arg-type]


REPORT_MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def reports_installed() -> bool:
    """Whether this installation renders session reports (``shekara.reports``)."""
    return importlib.util.find_spec("shekara.reports") is not None


@router.get(
    "/{session_id}/report",
    response_class=Response,
    responses={
        200: {
            "description": "the report",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        404: {"description": "no such session"},
        501: {"description": "this installation renders no reports"},
    },
)
def session_report(
    store: StoreDep,
    session_id: SessionId,
    lang: Annotated[Literal["ru", "kk", "en"], Query(description="language of the report")] = "ru",
    format: Annotated[Literal["html", "pdf"], Query()] = "pdf",
) -> Response:
    """The session's report for a ministry or a court, in Russian, Kazakh or English."""
    if not reports_installed():
        raise HTTPException(status_code=501, detail="session reports are not installed")
    from shekara.reports import UnknownRunError, render_session_report

    if queries.get_session(store.engine, session_id) is None:
        raise HTTPException(status_code=404, detail="no such session")
    try:
        body = render_session_report(store, session_id, lang, format)
    except UnknownRunError as exc:
        raise HTTPException(status_code=404, detail="no such session") from exc
    return Response(
        content=body,
        media_type=REPORT_MEDIA[format],
        headers={
            "Content-Disposition": (f'attachment; filename="session-{session_id}-{lang}.{format}"')
        },
    )


@router.get("/{session_id}/coverage", response_model=SessionCoveragePublic, responses={404: {}})
def session_coverage(store: StoreDep, session_id: SessionId) -> SessionCoveragePublic:
    """How much of the session the evidence covers: three figures, so that "no transfer
    observed" never reads as "no transfer" — the share of bytes whose content was read,
    the share of flows attributed with high confidence, the paths not observed."""
    if store.get_run(session_id) is None:
        raise HTTPException(status_code=404, detail="no such session")
    whole, per_host = store.coverage(session_id)
    attributed = store.attribution(session_id)
    return SessionCoveragePublic(
        run_id=session_id,
        bytes_total=whole.bytes_total,
        bytes_read=whole.bytes_read,
        share_read=whole.share_read,
        connections=whole.connections,
        undetermined_connections=whole.undetermined_connections,
        share_attributed_high=attributed.share_high,
        attributed_high=attributed.high,
        attributed_total=attributed.total,
        attributed_basis=attributed.basis,
        hosts=[HostCoveragePublic.from_coverage(c) for c in per_host],
        markers=[CoverageMarker.at_epoch(at, label) for at, label in store.markers(session_id)],
        not_observed=list(NOT_OBSERVED),
    )
