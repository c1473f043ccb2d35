"""Settings come from SHEKARA_* variables and are read once."""

from __future__ import annotations

import pytest

from shekara.api.settings import Settings, get_settings


def test_default_db_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEKARA_DB_URL", raising=False)
    assert Settings().db_url == "sqlite:///shekara.db"


def test_db_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEKARA_DB_URL", "sqlite:////var/lib/shekara/x.db")
    assert Settings().db_url == "sqlite:////var/lib/shekara/x.db"


def test_unprefixed_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEKARA_DB_URL", raising=False)
    monkeypatch.setenv("DB_URL", "sqlite:///other.db")
    assert Settings().db_url == "sqlite:///shekara.db"


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("SHEKARA_DB_URL", "sqlite:///first.db")
    first = get_settings()
    monkeypatch.setenv("SHEKARA_DB_URL", "sqlite:///second.db")
    assert get_settings() is first
    assert first.db_url == "sqlite:///first.db"
    get_settings.cache_clear()
