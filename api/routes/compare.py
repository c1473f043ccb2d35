"""``/compare`` and ``/history``: how what a model sends abroad changes between sessions.

"Since firmware 3.2 the VIN goes to a CN endpoint" is a ``vin → CN`` flow
added between two sessions of the same model.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from shekara.api import queries
from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.deps import StoreDep
from shekara.api.filters import MAX_ID
from shekara.api.schemas import (
    HistoryEntry,
    ModelHistory,
    SessionComparison,
    SessionPublic,
    SetDiff,
)
from shekara.api.views import sessions_public

router = APIRouter(
    tags=["comparisons"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

SessionQuery = Annotated[int, Query(ge=1, le=MAX_ID)]


def _dest(entry: tuple[Any, Any]) -> str:
    host, country = entry
    return f"{host or '?'} ({country or '??'})"


def _flow(entry: tuple[Any, Any]) -> str:
    category, country = entry
    return f"{category} → {country or '??'}"


def _diff(before: set[Any], after: set[Any], label: Any = str) -> SetDiff:
    def names(items: set[Any]) -> list[str]:
        return sorted(label(x) if x is not None else "??" for x in items)

    return SetDiff(
        added=names(after - before), removed=names(before - after), kept=names(before & after)
    )


def _label(s: SessionPublic) -> str:
    return f"firmware {s.firmware}" if s.firmware else f"session {s.id}"


def _statements(before: SessionPublic, after: SessionPublic, flows: SetDiff) -> list[str]:
    out = []
    for flow in flows.added:
        category, _, country = flow.partition(" → ")
        out.append(f"since {_label(after)} the {category} goes to a {country} endpoint")
    for flow in flows.removed:
        category, _, country = flow.partition(" → ")
        out.append(
            f"since {_label(after)} the {category} no longer goes to a {country} endpoint "
            f"(it did in {_label(before)})"
        )
    return out


@router.get(
    "/compare",
    response_model=SessionComparison,
    responses={404: {"description": "no such session"}, 409: {"description": "other models"}},
)
def compare_sessions(store: StoreDep, a: SessionQuery, b: SessionQuery) -> SessionComparison:
    """Diff two sessions of the same vehicle model (``a`` before, ``b`` after)."""
    rows = [queries.get_session(store.engine, run_id) for run_id in (a, b)]
    if rows[0] is None or rows[1] is None:
        raise HTTPException(status_code=404, detail="no such session")
    before, after = sessions_public(store.engine, rows)  # type: ignore[arg-type]
    models = [
        ((s.vehicle.make or "").lower(), (s.vehicle.model or "").lower()) if s.vehicle else None
        for s in (before, after)
    ]
    if models[0] is None or models[0] != models[1]:
        raise HTTPException(
            status_code=409, detail="both sessions must test vehicles of the same make and model"
        )
    pa, pb = queries.session_profile(store.engine, a), queries.session_profile(store.engine, b)
    flows = _diff(pa["flows"], pb["flows"], _flow)
    return SessionComparison(
        before=before,
        after=after,
        categories=_diff(pa["categories"], pb["categories"]),
        countries=_diff(pa["countries"], pb["countries"]),
        destinations=_diff(pa["destinations"], pb["destinations"], _dest),
        flows=flows,
        statements=_statements(before, after, flows),
    )


@router.get("/history", response_model=ModelHistory)
def model_history(
    store: StoreDep,
    make: Annotated[str, Query(min_length=1, max_length=100)],
    model: Annotated[str, Query(min_length=1, max_length=100)],
) -> ModelHistory:
    """Per session of a make and model, in time order: what its transfers abroad reached."""
    rows = queries.model_sessions(store.engine, make, model)
    entries = []
    for session in sessions_public(store.engine, rows):
        profile = queries.session_profile(store.engine, session.id)
        entries.append(
            HistoryEntry(
                session=session,
                categories=sorted(profile["categories"]),
                countries=sorted(c or "??" for c in profile["countries"]),
                destinations=sorted(_dest(d) for d in profile["destinations"]),
            )
        )
    return ModelHistory(make=make, model=model, sessions=entries)
