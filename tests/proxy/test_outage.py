"""PostgreSQL outage: the server stops mid-session and comes back; nothing is lost or doubled.

The proxy writes to a throw-away PostgreSQL cluster of this test's own (its
own data folder and port, through scripts/postgres.sh), so stopping it does
not disturb the server the rest of the suite shares. While the server is
down the car's requests must all go through, the station must report the
outage (status file, /health 503), and once the server is back the spool
must drain into it: every acknowledged finding exactly once, and the
connection record of every connection the upstream served exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shekara.api.app import create_app
from shekara.api.settings import Settings
from tests.proxy.durability import (
    Proxy,
    Traffic,
    Upstream,
    check_connections_once,
    check_exactly_once,
    free_port,
    run_statuses,
    verify,
)

pytestmark = [pytest.mark.live, pytest.mark.postgresql, pytest.mark.timeout(300)]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"


@dataclass
class Cluster:
    url: str
    env: dict[str, str]

    def _run(self, command: str) -> None:
        proc = subprocess.run(
            ["bash", str(SCRIPT), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, f"postgres.sh {command}: {proc.stderr}"

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this test's own, in /tmp (the postgres user must reach it)."""
    base = Path(tempfile.mkdtemp(prefix="shekara-outage-", dir="/tmp"))
    os.chmod(base, 0o755)
    port = free_port()
    env = os.environ | {
        "SHEKARA_PG_DATA": str(base / "pg"),
        "SHEKARA_PG_PORT": str(port),
        "SHEKARA_PG_NO_INSTALL": "1",  # installing is scripts/test.sh's job
    }
    c = Cluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", env)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _status(path: Path) -> dict:  # type: ignore[type-arg]
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def test_postgresql_outage_loses_and_doubles_nothing(tmp_path: Path, cluster: Cluster) -> None:
    home = tmp_path / "home"
    proxy = Proxy(home, cluster.url, free_port())
    health = TestClient(
        create_app(Settings(db_url=f"sqlite:///{tmp_path / 'api.db'}", status_file=proxy.status))
    )
    with Upstream() as upstream:
        proxy.start()
        traffic = Traffic(proxy.port, upstream.port, threads=3).start()
        try:
            _wait(lambda: len(traffic.acked) >= 50, 30, "traffic before the outage")
            cluster.stop()
            down_at = time.time()
            before_outage = len(traffic.acked)
            _wait(lambda: _status(proxy.status).get("store") == "down", 30, "store down")
            _wait(lambda: len(traffic.acked) >= before_outage + 200, 60, "traffic in the outage")
            status = _status(proxy.status)
            assert status["spool_records"] > 0
            station = health.get("/health").json().get("station")
            assert station is not None and station["store"] == "down"

            up_at = time.time()
            cluster.start()
            _wait(lambda: _status(proxy.status).get("store") == "ok", 60, "store back")
            after_outage = len(traffic.acked)
            _wait(lambda: len(traffic.acked) >= after_outage + 50, 30, "traffic after it")
        finally:
            traffic.stop()
        assert proxy.stop() == 0, proxy.tail()

    # The car's requests were unaffected: not one failed, in or out of the outage.
    assert traffic.failed == []
    assert len(traffic.acked) >= 300
    log = proxy.log.read_text()
    assert "unavailable" in log and "is back" in log

    check_exactly_once(home, cluster.url, traffic.acked)
    connections = check_connections_once(cluster.url, upstream)
    # Those made while the server was down among them: 200 requests, a connection each
    # (but the three in flight when it stopped, which may have started before).
    assert connections.between(down_at, up_at) >= 200 - 3
    statuses = run_statuses(cluster.url)
    assert statuses == {"completed": 1}
    final = _status(proxy.status)
    assert final["state"] == "stopped" and final["spool_records"] == 0
    result = verify(cluster.url, home)
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class Outage:
    """A proxy started while its PostgreSQL server is down, under steady traffic."""

    home: Path
    proxy: Proxy
    upstream: Upstream
    traffic: Traffic


@contextmanager
def started_in_an_outage(tmp_path: Path, cluster: Cluster, acked: int) -> Iterator[Outage]:
    """The server stopped, the proxy started (its run provisional), ``acked`` requests served.

    The traffic stops when the block ends; the upstream stays up for the block.
    """
    home = tmp_path / "home"
    proxy = Proxy(home, cluster.url, free_port())
    cluster.stop()
    with Upstream() as upstream:
        proxy.start()
        traffic = Traffic(proxy.port, upstream.port, threads=2).start()
        try:
            _wait(lambda: len(traffic.acked) >= acked, 60, "traffic with the store down")
            yield Outage(home, proxy, upstream, traffic)
        finally:
            traffic.stop()


def test_the_proxy_starts_and_serves_while_postgresql_is_down(
    tmp_path: Path, cluster: Cluster
) -> None:
    """A station switched on during an outage: traffic flows, the run is opened later."""
    with started_in_an_outage(tmp_path, cluster, acked=100) as o:
        status = _status(o.proxy.status)
        assert status.get("store") == "down" and status["spool_records"] > 0
        up_at = time.time()
        cluster.start()
        _wait(lambda: _status(o.proxy.status).get("store") == "ok", 60, "store back")
        after = len(o.traffic.acked)
        _wait(lambda: len(o.traffic.acked) >= after + 50, 30, "traffic after it")
        o.traffic.stop()
        assert o.proxy.stop() == 0, o.proxy.tail()

    assert o.traffic.failed == []
    assert "unreachable" in o.proxy.log.read_text()
    check_exactly_once(o.home, cluster.url, o.traffic.acked)
    connections = check_connections_once(cluster.url, o.upstream)
    # Made under the provisional run, before the server came back: 100 requests at least.
    assert connections.between(0, up_at) >= 100
    assert run_statuses(cluster.url) == {"completed": 1}
    result = verify(cluster.url, o.home)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_session_started_in_an_outage_and_killed_is_sealed_later(
    tmp_path: Path, cluster: Cluster
) -> None:
    """Killed before the store ever answered: the next start opens, fills and closes its run."""
    with started_in_an_outage(tmp_path, cluster, acked=60) as o:
        o.traffic.stop()
        # The last connections' ends reach the spool; what a kill cuts off is never acknowledged.
        time.sleep(1.0)
        o.proxy.kill()
        cluster.start()
        o.proxy.start()
        _wait(lambda: _status(o.proxy.status).get("spool_records") == 0, 60, "spool drained")
        assert o.proxy.stop() == 0, o.proxy.tail()

    check_exactly_once(o.home, cluster.url, o.traffic.acked)
    # At most one connection per client thread may have been closing when the kill came.
    connections = check_connections_once(cluster.url, o.upstream, lost_at_most=2)
    assert connections.total >= 60 - 2
    assert run_statuses(cluster.url) == {"interrupted": 1, "completed": 1}
    result = verify(cluster.url, o.home)
    assert result.returncode == 0, result.stdout + result.stderr
