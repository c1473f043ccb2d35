"""Settings of the officials' API, read from ``SHEKARA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the findings store is; more (auth, CORS) comes with the dashboard."""

    model_config = SettingsConfigDict(env_prefix="SHEKARA_", extra="ignore")

    db_url: str = "sqlite:///shekara.db"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
