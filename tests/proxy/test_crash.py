"""Crash test: SIGKILL the live proxy at random moments under steady traffic.

A request whose response reached the client is acknowledged: its finding
was fsynced in the spool before the proxy forwarded the response. After
every kill the proxy starts again on the same store and spool; at the end
every acknowledged finding is in the store exactly once, no finding twice,
every run is closed, and ``shekara verify`` accepts the chains. Connection
records take the same path: none twice, and none lost but those of the
connections a kill cut off.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from shekara.evidence.spool import Spool
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

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(300)]

KILLS = 20
SEED = 20261128
THREADS = 4


def _wait_for_ack_after(traffic: Traffic, seen: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(traffic.acked) <= seen:
        assert time.monotonic() < deadline, "the restarted proxy acknowledged nothing"
        time.sleep(0.02)


def test_sigkill_at_random_points_loses_no_acknowledged_finding(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    home = tmp_path / "home"
    db_url = f"sqlite:///{tmp_path / 'findings.db'}"
    proxy = Proxy(home, db_url, free_port())
    with Upstream() as upstream:
        traffic = Traffic(proxy.port, upstream.port, threads=THREADS)
        proxy.start()
        traffic.start()
        try:
            for _ in range(KILLS):
                # Each kill hits a proxy that is serving: after its first acknowledged
                # request since the start, then at a random point.
                _wait_for_ack_after(traffic, len(traffic.acked), timeout=60)
                time.sleep(rng.uniform(0.0, 1.0))
                proxy.kill()
                proxy.start()
            time.sleep(1.0)
        finally:
            traffic.stop()
        assert proxy.stop() == 0, proxy.tail()

    assert proxy.starts == KILLS + 1
    assert len(traffic.acked) >= 200
    assert traffic.failed, "no request was cut off by a kill: the kills missed the traffic"

    counts = check_exactly_once(home, db_url, traffic.acked)
    assert sum(counts.values()) >= len(traffic.acked)
    # A kill cuts off the connections in flight and those whose end was not spooled yet:
    # a few per client thread, against thousands of connections in all.
    check_connections_once(db_url, upstream, lost_at_most=KILLS * THREADS * 2)

    # Every run was closed: the killed ones as interrupted by the start after them.
    statuses = run_statuses(db_url)
    assert statuses.get("running", 0) == 0, statuses
    assert statuses["completed"] == 1
    assert statuses["interrupted"] == KILLS

    with Spool(proxy.spool) as spool:
        assert spool.pending == 0

    # No plain IMEI in the database files, the spool or the proxy's log.
    sample = traffic.acked[:: max(1, len(traffic.acked) // 50)]
    files = [p for p in tmp_path.glob("findings.db*")] + [proxy.log, proxy.status]
    files += [p for p in proxy.spool.iterdir() if p.is_file()]
    for path in files:
        data = path.read_bytes()
        assert not any(v.encode() in data for v in sample), path

    result = verify(db_url, home)
    assert result.returncode == 0, result.stdout + result.stderr
