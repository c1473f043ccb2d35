"""``shekara db upgrade|current`` on both back ends, in process and as a command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shekara.evidence import migrations
from shekara.evidence.store import FindingStore
from shekara.proxy.cli import main


def test_upgrade_creates_the_schema_and_prints_the_revision(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--db", db_url]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == migrations.head()
    assert "upgraded from empty" in err
    store = FindingStore(db_url)
    store.check()
    store.dispose()


def test_upgrade_again_is_a_no_op(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", db_url]) == 0
    store = FindingStore(db_url)
    run_id = store.start_run("proxy")
    capsys.readouterr()
    assert main(["db", "upgrade", "--db", db_url]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == migrations.head()
    assert "already at revision" in err
    assert store.get_run(run_id) is not None
    store.dispose()


def test_current_reports_none_then_head(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == "none"
    main(["db", "upgrade", "--db", db_url])
    capsys.readouterr()
    assert main(["db", "current", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == migrations.head()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("postgresql://postgres@127.0.0.1:1/shekara", "Connection refused"),
        ("not a url", "Could not parse"),
    ],
)
def test_failures_are_one_line_and_exit_1(
    url: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--db", url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert reason in err and err.startswith("shekara: db upgrade: ")
    assert "SELECT" not in err


@pytest.mark.postgresql
def test_plain_postgresql_url_from_the_command_line(pg_url: str) -> None:
    # What an operator types: postgresql://, no driver name; run as a real process.
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    proc = subprocess.run(
        [sys.executable, "-m", "shekara.proxy.cli", "db", "upgrade", "--db", plain],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == migrations.head()
