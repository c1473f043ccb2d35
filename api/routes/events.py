"""``GET /events``: findings as they are stored, for a dashboard watching a test drive (SSE).

The store is the one source of truth: the stream polls it for findings newer
than the last one sent, so it works whichever process (proxy, replay, another
station) writes them. Not in the OpenAPI document, which describes finite
answers; the dashboard reads it with ``fetch`` so the key travels in a header.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import select

from shekara.api.auth import READ, require
from shekara.api.deps import StoreDep
from shekara.api.filters import MAX_ID
from shekara.evidence import schema
from shekara.evidence.store import FindingStore

router = APIRouter(tags=["events"], dependencies=[Depends(require(*READ))])

BATCH = 200
f = schema.findings.c


def _newer(store: FindingStore, after: int, session: int | None) -> list[dict[str, object]]:
    stmt = (
        select(
            f.id,
            f.run_id,
            f.category,
            f.country,
            f.host,
            f.severity,
            f.violation,
            f.observed_at,
        )
        .where(f.id > after)
        .order_by(f.id)
        .limit(BATCH)
    )
    if session is not None:
        stmt = stmt.where(f.run_id == session)
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def _last_id(store: FindingStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(f.id).order_by(f.id.desc()).limit(1)).scalar() or 0)


@router.get("/events", response_class=EventSourceResponse, include_in_schema=False)
async def events(
    request: Request,
    store: StoreDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="last finding id seen; default: now")
    ] = None,
    session: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    poll: Annotated[float, Query(ge=0.2, le=60)] = 1.0,
    max_seconds: Annotated[float, Query(gt=0, le=3600)] = 600.0,
) -> AsyncIterator[ServerSentEvent]:
    """``finding`` events (id, session, category, country, host, severity) as stored.

    Ends after ``max_seconds`` (the client reconnects with ``after``), or when
    the client goes away; a comment every poll keeps proxies from closing it.
    """
    last = after if after is not None else await anyio.to_thread.run_sync(_last_id, store)
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline and not await request.is_disconnected():
        rows = await anyio.to_thread.run_sync(_newer, store, last, session)
        for row in rows:
            last = int(row["id"])  # type: ignore[call-overload]
            yield ServerSentEvent(data=row, event="finding", id=str(last))
        if len(rows) < BATCH:
            yield ServerSentEvent(comment="waiting")
            await anyio.sleep(poll)
