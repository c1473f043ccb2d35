"""Round trips against light in fibre: pure checks, and a real one across network namespaces.

The live tests build two namespaces, delay the server's side, and run
``shekara geo explain --rtt`` in the client's namespace against a server
claimed (by a test database) to be in Frankfurt: answering in ~1-2 ms it
cannot be there; at 60 ms it can. The delay is ``tc netem`` on a veth pair
where the kernel has netem, and a user-space TUN link (``delaylink.py``)
in any case, so the check is exercised on kernels without ``sch_netem``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from shekara.geo.rtt import ALMATY, Claim, check, claim_for, distance_km, parse_station
from tests.geo.conftest import geoip2_record, write_db

SHEKARA = str(Path(sys.executable).with_name("shekara"))
DELAYLINK = Path(__file__).with_name("delaylink.py")
FRANKFURT = Claim("DE", 50.11, 8.68, 20.0, "database coordinates")


def test_distance_almaty_frankfurt() -> None:
    assert 5000 < distance_km(ALMATY, (50.11, 8.68)) < 5150


@pytest.mark.parametrize(
    "rtt_ms, claim, outcome",
    [
        (2.0, FRANKFURT, "implausible"),  # 2 ms: at most 200 km away
        (45.0, FRANKFURT, "implausible"),  # 4,500 km: still short of ~5,070 km
        (60.0, FRANKFURT, "consistent"),
        (2.0, Claim("KZ", 43.26, 76.93, 1.0, "database coordinates"), "consistent"),
        (300.0, Claim("KZ", 43.26, 76.93, 1.0, "database coordinates"), "slow"),
    ],
)
def test_check(rtt_ms: float, claim: Claim, outcome: str) -> None:
    result = check(rtt_ms, ALMATY, claim)
    assert result.outcome == outcome
    assert result.evidence()["contradicts"] is (outcome == "implausible")


def test_claim_falls_back_to_country_extent() -> None:
    c = claim_for("DE", None, None, None)
    assert c is not None and c.basis == "country extent"
    assert claim_for("ZZ", None, None, None) is None
    # Anywhere in Germany is at least ~4,000 km from Almaty.
    assert check(10.0, ALMATY, c).outcome == "implausible"


def test_parse_station() -> None:
    assert parse_station(None) == ALMATY
    assert parse_station("51.13,71.43") == (51.13, 71.43)
    with pytest.raises(ValueError, match="latitude,longitude"):
        parse_station("Astana")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    """(client ns, server ns): two fresh, empty network namespaces."""
    tag = f"{os.getpid() % 100000}"
    client, server = f"shk-rttc-{tag}", f"shk-rtts-{tag}"
    for ns in (client, server):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    try:
        _run("ip", "netns", "add", client)
        _run("ip", "netns", "add", server)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise RuntimeError(f"cannot create namespaces (root, iproute2 needed): {detail}") from e
    try:
        yield client, server
    finally:
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _veth(client: str, server: str) -> str:
    """Join the namespaces with a veth pair, 5.3.0.2 ↔ 5.3.0.1; returns the server's end."""
    tag = f"{os.getpid() % 100000}"
    vc, vs = f"shkc{tag}", f"shks{tag}"
    _run("ip", "link", "add", vc, "netns", client, "type", "veth", "peer", vs, "netns", server)
    for ns, dev, addr in ((client, vc, "5.3.0.2/24"), (server, vs, "5.3.0.1/24")):
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        _run("ip", "-n", ns, "link", "set", dev, "up")
    return vs


def _netem(ns: str, dev: str, verb: str, delay: str) -> None:
    _run("tc", "-n", ns, "qdisc", verb, "dev", dev, "root", "netem", "delay", delay)


def _netem_available(ns: str, dev: str) -> bool:
    got = subprocess.run(
        ["tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "delay", "1ms"],
        capture_output=True,
        text=True,
    )
    if got.returncode == 0:
        return True
    if "unknown" in got.stderr.lower():
        return False
    raise RuntimeError(f"tc netem failed: {got.stderr}")


@contextmanager
def _listening(ns: str) -> Iterator[None]:
    code = (
        "import socket\n"
        "s = socket.create_server(('5.3.0.1', 8443), backlog=64)\n"
        "while True:\n    c, _ = s.accept(); c.close()\n"
    )
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = subprocess.run(
                ["ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :8443"],
                capture_output=True,
                text=True,
            )
            if "8443" in got.stdout:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the test server did not start listening")
        yield
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def _delay_link(client: str, server: str, delay_ms: int) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, str(DELAYLINK), client, "5.3.0.2", server, "5.3.0.1", str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.kill()
        proc.wait()


def _explain(client: str, db: Path) -> dict[str, Any]:
    argv = ["ip", "netns", "exec", client, SHEKARA, "geo", "explain", "5.3.0.1", "--port", "8443"]
    argv += ["--rtt", "--attempts", "5", "--no-embedded", "--geoip", str(db), "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    out: dict[str, Any] = json.loads(line)
    return out


@pytest.fixture
def claims_de(tmp_path: Path) -> Path:
    """A database that places 5.3.0.0/16 in Frankfurt, about 4,800 km from Almaty."""
    return write_db(
        tmp_path / "claims-de.mmdb",
        "GeoLite2-City",
        {"5.3.0.0/16": geoip2_record("DE", "Frankfurt", 50.11, 8.68)},
    )


def _assert_near_and_far(near: dict[str, Any], far: dict[str, Any]) -> None:
    (rtt_near,) = [e for e in near["evidence"] if e["kind"] == "rtt"]
    assert rtt_near["rtt_ms"] < 10 and rtt_near["outcome"] == "implausible"
    assert rtt_near["contradicts"] is True
    assert near["disputed"] is True and near["country"] is None and near["verdict"] == "disputed"
    assert near["confidence"] == "low"
    (rtt_far,) = [e for e in far["evidence"] if e["kind"] == "rtt"]
    assert 60 <= rtt_far["rtt_ms"] < 200 and rtt_far["outcome"] == "consistent"
    assert far["country"] == "DE" and far["verdict"] == "cross_border" and not far["disputed"]


def test_rtt_with_tc_netem(namespaces: tuple[str, str], claims_de: Path) -> None:
    """veth pair, ``tc netem`` delay on the server's side: 1 ms, then 60 ms."""
    client, server = namespaces
    dev = _veth(client, server)
    if not _netem_available(server, dev):
        pytest.skip(
            "this kernel has no sch_netem (tc: unknown qdisc); see the user-space link test"
        )
    with _listening(server):
        near = _explain(client, claims_de)
        _netem(server, dev, "replace", "60ms")
        far = _explain(client, claims_de)
    _assert_near_and_far(near, far)


def test_rtt_with_user_space_delay_link(namespaces: tuple[str, str], claims_de: Path) -> None:
    """The same across a TUN link whose relay holds the server's packets back (netem's part)."""
    client, server = namespaces
    with _delay_link(client, server, 1), _listening(server):
        near = _explain(client, claims_de)
    with _delay_link(client, server, 60), _listening(server):
        far = _explain(client, claims_de)
    _assert_near_and_far(near, far)
