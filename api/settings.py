"""Settings of the officials' API, read from ``SHEKARA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_status_file() -> Path:
    from shekara.proxy.keys import shekara_home

    return shekara_home() / "status.json"


def _default_home() -> Path:
    from shekara.proxy.keys import shekara_home

    return shekara_home()


def _default_hashing_key_file() -> Path:
    from shekara.proxy.keys import shekara_home

    return shekara_home() / "hmac.key"


class Settings(BaseSettings):
    """Where the findings store is, who may call the API, and from which web origins."""

    model_config = SettingsConfigDict(env_prefix="SHEKARA_", extra="ignore")

    db_url: str = "sqlite:///shekara.db"
    # The station status the proxy on this machine writes (``shekara proxy
    # --status-file``); /health reports it when the file exists. None: never.
    status_file: Path | None = Field(default_factory=_default_status_file)
    # A running station that has not written its status for this long is reported stale.
    status_stale_after: float = 30.0
    # Web origins allowed to call the API from a browser. None by default: the
    # dashboard is served by the API itself and needs no cross-origin access.
    cors_origins: list[str] = Field(default_factory=list)
    # A client address that fails authentication this often within the window
    # gets 429 until its failures age out; at most ``auth_tracked_clients``
    # addresses are remembered (the oldest are forgotten first).
    auth_max_failures: int = Field(default=10, ge=1)
    auth_failure_window: float = Field(default=60.0, gt=0)
    auth_tracked_clients: int = Field(default=10_000, ge=1)
    # The installation's hashing key: a VIN given as a filter is compared by its
    # keyed hash, as the proxy stored it. Created on first use when missing.
    hashing_key_file: Path = Field(default_factory=_default_hashing_key_file)
    # The ruleset whose rules and categories /rules and /categories describe
    # (default: the bundled Kazakhstan ruleset).
    ruleset: Path | None = None
    # Where the interception CA lives (its ``mitmproxy`` folder), as the proxy on
    # this machine uses it: SHEKARA_HOME unless told otherwise.
    ca_home: Path = Field(default_factory=_default_home)
    # Seconds a CA download link (POST /ca/link) stays valid.
    ca_link_lifetime: int = Field(default=900, ge=30, le=86_400)
    # The API's address as the device under test reaches it, e.g.
    # http://10.77.0.1:8000 on the audit Wi-Fi; None: the address the caller used.
    public_url: AnyHttpUrl | None = None


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
