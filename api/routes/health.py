"""``GET /health``: is the API up and can it read its store."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shekara.api.deps import StoreDep
from shekara.api.schemas import HealthPublic
from shekara.evidence.store import StoreError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "the store is unreachable"}},
)
def health(store: StoreDep) -> HealthPublic | JSONResponse:
    """Report ok, or 503 with the store's error when it cannot be read."""
    try:
        store.check()
    except StoreError as exc:
        log.error("health check: store unavailable: %s", exc)
        body = HealthPublic(status="error", db=f"error: {exc}")
        return JSONResponse(status_code=503, content=body.model_dump())
    return HealthPublic(status="ok", db="ok")
