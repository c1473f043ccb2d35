"""Settings of the officials' API, read from ``SHEKARA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_status_file() -> Path:
    from shekara.proxy.keys import shekara_home

    return shekara_home() / "status.json"


class Settings(BaseSettings):
    """Where the findings store is; more (auth, CORS) comes with the dashboard."""

    model_config = SettingsConfigDict(env_prefix="SHEKARA_", extra="ignore")

    db_url: str = "sqlite:///shekara.db"
    # The station status the proxy on this machine writes (``shekara proxy
    # --status-file``); /health reports it when the file exists. None: never.
    status_file: Path | None = Field(default_factory=_default_status_file)
    # A running station that has not written its status for this long is reported stale.
    status_stale_after: float = 30.0


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
