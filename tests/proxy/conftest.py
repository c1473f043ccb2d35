"""Fixtures of the proxy tests: one SHEKARA_HOME per module, the command run in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shekara.proxy.cli import main
from tests.proxy.inprocess import HOME, Ran


@pytest.fixture(scope="module", autouse=True)
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    HOME["path"] = tmp_path_factory.mktemp("home")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """The shekara command run in this process: a new interpreter per call costs seconds."""

    def run(args: list[str], **env: str) -> Ran:
        monkeypatch.setenv("SHEKARA_HOME", str(HOME["path"]))
        monkeypatch.delenv("SHEKARA_GEOIP", raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        rc = main(args)
        out, err = capsys.readouterr()
        return Ran(rc, out, err)

    return run
