"""``shekara api``: its settings come from the environment and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shekara.proxy import cli


def test_public_url_from_the_command_line(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(
        ["api", "--db", f"sqlite:///{tmp_path / 'a.db'}", "--public-url", "http://10.77.0.1:8000"]
    )
    settings = cli.api_settings(args)
    assert settings.public_url is not None and settings.public_url.host == "10.77.0.1"
    assert settings.db_url.endswith("a.db")


def test_public_url_from_the_environment_unless_the_command_line_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEKARA_PUBLIC_URL", "http://10.9.0.1:8000")
    plain = cli.build_parser().parse_args(["api"])
    assert str(cli.api_settings(plain).public_url).startswith("http://10.9.0.1:8000")
    given = cli.build_parser().parse_args(["api", "--public-url", "http://10.77.0.1:8000"])
    assert cli.api_settings(given).public_url.host == "10.77.0.1"  # type: ignore[union-attr]


def test_a_bad_public_url_is_refused_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["api", "--public-url", "not a url"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "bad API setting" in err and "public_url" in err and "Traceback" not in err
