"""The officials' API: FastAPI app factory over the findings store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError

from shekara.api.metrics import build_registry
from shekara.api.ratelimit import FailureLimiter
from shekara.api.routes import (
    aggregates,
    apikeys,
    ca,
    compare,
    destinations,
    events,
    findings,
    health,
    metrics,
    rules,
    sessions,
    vehicles,
    violations,
)
from shekara.api.settings import Settings, get_settings
from shekara.evidence.store import FindingStore, StoreError

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, store: FindingStore | None = None) -> FastAPI:
    """Build the API over ``store`` (or a store opened from ``settings.db_url``).

    The API only reads: it does not create tables, so pointing it at the wrong
    database shows up as a 503 on ``/health`` instead of a new empty store.
    """
    settings = settings or get_settings()
    owns_store = store is None
    app_store = store if store is not None else FindingStore(settings.db_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            app_store.dispose()

    app = FastAPI(title="Shekara", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.store = app_store
    app.state.metrics_registry, api_errors = build_registry(
        app_store, settings.status_file, settings.status_stale_after
    )
    app.state.auth_limiter = FailureLimiter(
        settings.auth_max_failures, settings.auth_failure_window, settings.auth_tracked_clients
    )
    for module in (
        health,
        findings,
        violations,
        sessions,
        vehicles,
        destinations,
        aggregates,
        rules,
        compare,
        apikeys,
        ca,
        events,
        metrics,
    ):
        app.include_router(module.router)
    # The dashboard's page and scripts hold no data: they are public, the
    # API calls they make are not.
    app.mount("/dashboard", StaticFiles(directory=STATIC, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    if settings.cors_origins:
        # Closed unless the operator names origins: the dashboard is same-origin.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(StoreError)
    async def store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # The cause goes to the log; the caller learns only that the store failed.
        log.error("store error while serving a request: %s", exc, exc_info=exc)
        api_errors.labels(cause="store").inc()
        return JSONResponse(
            status_code=503, content={"detail": "the findings store is unavailable"}
        )

    return app
