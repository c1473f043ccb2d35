"""``GET /health``: is the API up, can it read its store, and is the station's proxy well."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from shekara.api.deps import SettingsDep, StoreDep
from shekara.api.schemas import HealthPublic, StationStatus
from shekara.evidence.store import StoreError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])


def _when(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(float(epoch), tz=UTC) if epoch is not None else None


def read_station_status(path: Path | None, stale_after: float) -> StationStatus | None:
    """The station's last report with its problems listed, or None when there is no report."""
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text())
        updated = float(doc["updated_at"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("unreadable station status %s: %s", path, exc)
        return StationStatus(
            state="unknown",
            store="unknown",
            updated_at=datetime.now(UTC),
            problems=["the station status file is unreadable"],
        )
    problems: list[str] = []
    state = str(doc.get("state", "unknown"))
    if doc.get("store") == "down":
        problems.append("the station's findings store is unavailable; findings are spooled")
    if doc.get("spool_full"):
        problems.append("the station's spool is full; new findings are NOT acknowledged")
    if doc.get("spool_error"):
        problems.append("the station cannot write its spool; new findings are NOT acknowledged")
    if int(doc.get("dropped_findings", 0)) or int(doc.get("dropped_connections", 0)):
        problems.append("the station lost findings or connection records it could not spool")
    if state == "stopped" and int(doc.get("spool_records", 0)) > 0:
        problems.append("the station stopped with spooled findings not yet in the store")
    age = time.time() - updated
    if state == "running" and age > stale_after:
        problems.append(f"the station has not reported for {age:.0f} s")
    try:
        return StationStatus(
            state=state,
            store=str(doc.get("store", "unknown")),
            store_error=doc.get("store_error"),
            store_down_since=_when(doc.get("store_down_since")),
            spool_records=int(doc.get("spool_records", 0)),
            spool_bytes=int(doc.get("spool_bytes", 0)),
            spool_max_bytes=int(doc.get("spool_max_bytes", 0)),
            spool_full=bool(doc.get("spool_full", False)),
            spool_error=doc.get("spool_error"),
            unacknowledged_findings=int(doc.get("unacknowledged_findings", 0)),
            dropped_findings=int(doc.get("dropped_findings", 0)),
            unacknowledged_connections=int(doc.get("unacknowledged_connections", 0)),
            dropped_connections=int(doc.get("dropped_connections", 0)),
            rejected_records=int(doc.get("rejected_records", 0)),
            updated_at=datetime.fromtimestamp(updated, tz=UTC),
            problems=problems,
        )
    except (ValidationError, ValueError, TypeError) as exc:
        log.error("invalid station status %s: %s", path, exc)
        return StationStatus(
            state="unknown",
            store="unknown",
            updated_at=datetime.now(UTC),
            problems=["the station status file is invalid"],
        )


@router.get(
    "",
    response_model=HealthPublic,
    responses={
        503: {
            "model": HealthPublic,
            "description": "the store is unreachable (error), or the station is degraded",
        }
    },
)
def health(store: StoreDep, settings: SettingsDep) -> HealthPublic | JSONResponse:
    """Report ok, or 503 with the store's error or the station's problems."""
    station = read_station_status(settings.status_file, settings.status_stale_after)
    try:
        store.check()
    except StoreError as exc:
        log.error("health check: store unavailable: %s", exc)
        body = HealthPublic(status="error", db=f"error: {exc}", station=station)
        return JSONResponse(status_code=503, content=body.model_dump(mode="json"))
    if station is not None and station.problems:
        log.warning("health check: station degraded: %s", "; ".join(station.problems))
        body = HealthPublic(status="degraded", db="ok", station=station)
        return JSONResponse(status_code=503, content=body.model_dump(mode="json"))
    return HealthPublic(status="ok", db="ok", station=station)
