"""The officials' API: FastAPI app factory over the findings store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from shekara.api.routes import health, sessions, violations
from shekara.api.settings import Settings, get_settings
from shekara.evidence.store import FindingStore, StoreError

log = logging.getLogger(__name__)


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
    app.include_router(health.router)
    app.include_router(violations.router)
    app.include_router(sessions.router)

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(StoreError)
    async def store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # The cause goes to the log; the caller learns only that the store failed.
        log.error("store error while serving a request: %s", exc, exc_info=exc)
        return JSONResponse(
            status_code=503, content={"detail": "the findings store is unavailable"}
        )

    return app
