"""Fixtures for every test folder: a store URL on each back end, SQLite and PostgreSQL.

``db_url`` runs a test twice: on a SQLite file of its own, and on a fresh
PostgreSQL database created for it and dropped afterwards. The PostgreSQL
server is the one named by ``SHEKARA_TEST_PG_URL`` (``./scripts/test.sh``
starts the throw-away server and sets it). When the variable is unset, as in a
bare ``pytest`` run, the fixture starts that same server itself with
``scripts/postgres.sh start`` (left running afterwards; ``scripts/postgres.sh
stop`` stops it); when that fails too, the PostgreSQL half of the tests fails,
it is never skipped. ``-m "not postgresql"`` deselects it on purpose.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from shekara.evidence.store import FindingStore, normalise_url

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "SHEKARA_TEST_PG_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def _hold_local_server() -> IO[str]:
    """A shared lock on .shekara/pg.users: a test.sh finishing meanwhile leaves the server up."""
    (ROOT / ".shekara").mkdir(exist_ok=True)
    users = open(ROOT / ".shekara" / "pg.users", "a")  # noqa: SIM115 - held for the session
    fcntl.flock(users, fcntl.LOCK_SH)
    return users


def _start_local_server() -> str:
    """Start (or find running) the scripts/postgres.sh server; return its URL."""
    script = ROOT / "scripts" / "postgres.sh"
    # No apt-get from inside pytest: installing is test.sh's job.
    env = os.environ | {"SHEKARA_PG_NO_INSTALL": "1"}
    proc = subprocess.run(
        ["bash", str(script), "start"], capture_output=True, text=True, env=env, timeout=180
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{PG_ENV} is not set and scripts/postgres.sh could not start PostgreSQL:\n"
            f"{proc.stderr.strip()}\n"
            "Run the suite with ./scripts/test.sh (it installs and starts the server), "
            f"or point {PG_ENV} at a PostgreSQL server you may create databases on.",
            pytrace=False,
        )
    return subprocess.run(
        ["bash", str(script), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL database on the test server from which databases are created."""
    users = _hold_local_server()
    try:
        url = os.environ.get(PG_ENV, "").strip()
        if not url:
            url = _start_local_server()
            # Subprocesses started by tests (a proxy, a CLI) find the same server.
            os.environ[PG_ENV] = url
        yield normalise_url(url).render_as_string(hide_password=False)
    finally:
        users.close()


@pytest.fixture(scope="session")
def pg_admin(pg_admin_url: str) -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the test server (CREATE/DROP DATABASE refuse transactions)."""
    engine = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"the PostgreSQL server at {make_url(pg_admin_url)!r} does not answer: {exc}\n"
            "Run the suite with ./scripts/test.sh, which starts it.",
            pytrace=False,
        )
    _drop_orphans(engine)
    yield engine
    engine.dispose()


def _drop_orphans(engine: Engine) -> None:
    """Drop test databases left by killed runs on this machine (their pid is gone)."""
    if engine.url.host not in ("127.0.0.1", "localhost", "::1"):
        return
    with engine.connect() as conn:
        names: list[str] = list(
            conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'shekara\\_test\\_%'")
            ).scalars()
        )
        for name in names:
            pid = name.split("_")[2]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_admin: Engine, pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped after it."""
    # The pid lets a later run drop what a killed one left behind.
    name = f"shekara_test_{os.getpid()}_{secrets.token_hex(4)}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_admin.connect() as conn:
            # FORCE: a store the test forgot to dispose of still holds connections.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The back end a test runs on: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty store database on each back end: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[FindingStore]:
    """A migrated store on each back end."""
    s = FindingStore(db_url)
    s.create_schema()
    yield s
    s.dispose()


# Property tests explore new inputs on a developer's machine; in CI the same
# seed is used on every run, so a green CI run stays green for the same code.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass
