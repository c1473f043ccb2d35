"""``GET /metrics``: Prometheus exposition (a scraper authenticates with a read key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shekara.api.auth import AUTH_RESPONSES, READ, require

router = APIRouter(
    tags=["operations"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Flows analysed, findings by category and country, undecodable payloads, queue, errors."""
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
    )
