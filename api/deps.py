"""FastAPI dependencies as ``Annotated`` aliases, so handlers name what they need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shekara.api.settings import Settings
from shekara.evidence.store import FindingStore


def get_store(request: Request) -> FindingStore:
    """The store the app was built with (one engine per app, shared by requests)."""
    store: FindingStore = request.app.state.store
    return store


def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with (not re-read from the environment)."""
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[FindingStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
