"""``shekara session start|mark|stop`` and the modes ``shekara proxy`` accepts."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy.exceptions import OptionsError

from shekara.evidence import schema
from shekara.evidence.store import FindingStore
from shekara.proxy.modes import mode_specs

SHEKARA = str(Path(sys.executable).with_name("shekara"))
VIN, IMEI, PHONE, IIN = "LSVAU218XN2183294", "356938035643809", "+77012345678", "900101300123"


def shekara(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHEKARA, *args],
        env={"SHEKARA_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_session_lifecycle(tmp_path: Path) -> None:
    home, db = tmp_path / "home", f"sqlite:///{tmp_path / 's.db'}"
    (tmp_path / "drive.csv").write_text("lat,lon\n43.2389,76.8897\n43.2301,76.9102\n")
    started = shekara(
        home,
        *("session", "start", "--db", db, "--vin", VIN.lower(), "--make", "Chery"),
        *("--model", "Tiggo 8", "--firmware", "2.4.1", "--scenario", "idle 10 min"),
        *("--imei", IMEI, "--phone", PHONE, "--iin", IIN, "--owner-name", "Aigerim Nurlanova"),
        *("--track", str(tmp_path / "drive.csv")),
    )
    assert started.returncode == 0, started.stderr
    run_id = int(started.stdout)
    session_file = home / "session.json"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    saved = json.loads(session_file.read_text())
    assert saved["track"] == [[43.2389, 76.8897], [43.2301, 76.9102]]
    known = saved["known"]
    assert known == {
        "vin": VIN,
        "imei": IMEI,
        "phone": PHONE,
        "iin": IIN,
        "owner_name": "Aigerim Nurlanova",
    }
    again = shekara(home, "session", "start", "--db", db, "--vin", VIN)
    assert again.returncode == 1 and "already running" in again.stderr

    assert shekara(home, "session", "mark", "navigation", "to", "Astana").returncode == 0
    assert shekara(home, "session", "mark", "voice assistant").returncode == 0
    stopped = shekara(home, "session", "stop")
    assert stopped.returncode == 0 and int(stopped.stdout) == run_id
    assert "no traffic was seen: this is not evidence of no transfer" in stopped.stderr
    assert not session_file.exists()

    store = FindingStore(db)
    assert [label for _, label in store.markers(run_id)] == [
        "navigation to Astana",
        "voice assistant",
    ]
    with store.engine.connect() as conn:
        run = conn.execute(schema.runs.select().where(schema.runs.c.id == run_id)).one()
        vehicle = conn.execute(schema.vehicles.select()).one()
    assert (run.firmware, run.scenario, run.status) == ("2.4.1", "idle 10 min", "completed")
    assert run.signature and run.vehicle_id == vehicle.id
    assert (vehicle.make, vehicle.model, vehicle.vin_preview) == (
        "Chery",
        "Tiggo 8",
        "LSV************94",
    )
    # No plain identifier anywhere in the store.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    for value in (VIN, IMEI, PHONE, IIN, "Aigerim"):
        assert value.encode() not in raw
    assert shekara(home, "session", "stop").returncode == 1
    assert shekara(home, "session", "mark", "late").returncode == 1


def test_proxy_refuses_another_store_than_the_sessions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert (
        shekara(
            home, "session", "start", "--db", f"sqlite:///{tmp_path / 'a.db'}", "--vin", VIN
        ).returncode
        == 0
    )
    out = shekara(home, "proxy", "--db", f"sqlite:///{tmp_path / 'b.db'}", "--listen-port", "0")
    assert out.returncode == 1 and "records into" in out.stderr


@pytest.mark.parametrize(
    "specs, expected",
    [
        (["transparent"], ["transparent"]),
        (["transparent@8080", "dns@5353"], ["transparent@8080", "dns@5353"]),
        (
            ["wireguard", "socks5@1081", "regular@8081"],
            ["wireguard", "socks5@1081", "regular@8081"],
        ),
    ],
)
def test_car_modes(specs: list[str], expected: list[str]) -> None:
    assert mode_specs(specs) == expected


@pytest.mark.parametrize(
    "specs, message",
    [
        (["reverse:https://example.com"], "not a car audit mode"),
        (["local"], "not a car audit mode"),
        (["nonsense"], "nonsense"),
        (["dns@53", "dns@53"], "twice"),
    ],
)
def test_bad_modes(specs: list[str], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        mode_specs(specs)
