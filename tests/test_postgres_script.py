"""scripts/postgres.sh: an idempotent throw-away server on loopback, durable, never silent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "postgres.sh"

pytestmark = [pytest.mark.postgresql, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Script:
    data: Path
    port: int
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )


@pytest.fixture
def script() -> Iterator[Script]:
    """The script on a cluster of this test's own (data folder, port), so the shared one is
    left alone; in /tmp because the postgres user must reach it."""
    base = Path(tempfile.mkdtemp(prefix="shekara-pgsh-", dir="/tmp"))
    os.chmod(base, 0o755)
    port = _free_port()
    env = os.environ | {
        "SHEKARA_PG_DATA": str(base / "pg"),
        "SHEKARA_PG_PORT": str(port),
        "SHEKARA_PG_NO_INSTALL": "1",
    }
    s = Script(base / "pg", port, env)
    try:
        yield s
    finally:
        s.run("stop")
        shutil.rmtree(base, ignore_errors=True)


def test_start_is_idempotent_and_the_server_is_durable_and_local(script: Script) -> None:
    assert script.run("status").returncode != 0
    first = script.run("start")
    assert first.returncode == 0, first.stderr
    assert "started" in first.stderr
    again = script.run("start")
    assert again.returncode == 0 and "running" in again.stderr
    assert script.run("status").returncode == 0

    url = script.run("url").stdout.strip()
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{script.port}/postgres"
    engine = create_engine(url)
    with engine.connect() as conn:

        def show(name: str) -> str:
            return str(conn.execute(text(f"SHOW {name}")).scalar_one())

        assert show("fsync") == "on"
        assert show("synchronous_commit") == "on"
        assert show("listen_addresses") == "127.0.0.1"
        assert show("port") == str(script.port)
        assert show("unix_socket_directories") == str(script.data)
        assert conn.execute(text("SELECT current_user")).scalar_one() == "postgres"
    engine.dispose()
    # The server runs as postgres, never as root, from the given folder.
    assert script.data.stat().st_uid != 0
    assert (script.data / f".s.PGSQL.{script.port}").is_socket()


def test_stop_is_idempotent_and_start_reuses_the_cluster(script: Script) -> None:
    assert script.run("stop").returncode == 0  # nothing there yet
    assert script.run("start").returncode == 0
    url = script.run("url").stdout.strip()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE DATABASE kept"))
    engine.dispose()
    assert script.run("stop").returncode == 0
    assert script.run("status").returncode != 0
    assert script.run("stop").returncode == 0
    assert script.run("start").returncode == 0
    engine = create_engine(url)
    with engine.connect() as conn:
        names: list[str] = list(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    engine.dispose()
    assert "kept" in names


def test_a_port_held_by_another_server_is_refused(script: Script) -> None:
    assert script.run("start").returncode == 0
    other = Script(
        script.data.parent / "other",
        script.port,
        script.env | {"SHEKARA_PG_DATA": str(script.data.parent / "other")},
    )
    proc = other.run("start")
    assert proc.returncode != 0
    assert f"port {script.port}" in proc.stderr


def test_missing_postgresql_fails_loudly_without_installing(script: Script) -> None:
    # Hide the installed server in a private mount namespace: the script must
    # fail with a message, not pretend; NO_INSTALL keeps apt-get out of it.
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for this test")
    cmd = f"mount -t tmpfs none /usr/lib/postgresql && exec bash {SCRIPT} start"
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", cmd],
        env=script.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "not installed" in proc.stderr
    assert script.run("status").returncode != 0


def test_usage_errors_exit_2() -> None:
    proc = subprocess.run(["bash", str(SCRIPT), "restart"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage" in proc.stderr
