"""A capture with a 1 GiB gzip bomb and malformed bodies: noted, never inflated, memory bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from shekara.evidence.store import FindingStore

SHEKARA = str(Path(sys.executable).with_name("shekara"))
PEAK_RSS = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "sys.exit(os.waitstatus_to_exitcode(status) or print(usage.ru_maxrss))"
)
VIN = "LSVAU218XN2183294"


def _bomb(gib: int = 1) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(c.compress(zeros) for _ in range(gib * 1024)) + c.flush()


def _flow(body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    f = tflow.tflow(resp=True)
    f.request.host = "tsp.example-oem.cn"
    f.request.method = "POST"
    f.request.headers.clear()
    for k, v in headers.items():
        f.request.headers[k] = v
    f.request.raw_content = body
    f.server_conn.peername = ("223.5.5.5", 443)
    return f


@pytest.mark.timeout(300)
def test_bomb_and_garbage_in_a_capture(tmp_path: Path) -> None:
    gz = {"content-type": "application/json", "content-encoding": "gzip"}
    flows = [
        _flow(_bomb(), gz),
        _flow(b'{"vin": "' + VIN.encode() + b'", ', {"content-type": "application/json"}),
        _flow(b"\x1f\x8b\x08\x00\x00\x00\x00\x00broken", gz),
        _flow(b"[" * 100_000, {"content-type": "application/json"}),
        _flow(json.dumps({"vin": VIN}).encode(), {"content-type": "application/json"}),
    ]
    capture = tmp_path / "hostile.mitm"
    with capture.open("wb") as fh:
        w = io.FlowWriter(fh)
        for f in flows:
            w.add(f)
    db = tmp_path / "h.db"
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [SHEKARA, "replay", str(capture), "--db", f"sqlite:///{db}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()
    store = FindingStore(f"sqlite:///{db}")
    notes = {n.note.flow_id: n.note.reason for n in store.query_notes(limit=100)}
    assert set(notes) == {f.id for f in flows[:4]}
    assert "beyond" in notes[flows[0].id]
    assert all("undecodable" in r for r in notes.values())
    [finding] = store.query_findings(limit=100)
    assert finding.finding.flow_id == flows[4].id and finding.finding.category.value == "vin"


@pytest.mark.timeout(300)
def test_bomb_replay_memory_stays_bounded(tmp_path: Path) -> None:
    capture = tmp_path / "bomb.mitm"
    with capture.open("wb") as fh:
        io.FlowWriter(fh).add(
            _flow(_bomb(), {"content-type": "application/json", "content-encoding": "gzip"})
        )
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    # Measured from a small launcher: a child forked straight from this (large) test
    # process would count the parent's pages in its peak before exec.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK_RSS,
            SHEKARA,
            "replay",
            str(capture),
            "--db",
            f"sqlite:///{tmp_path / 'b.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stdout.split()[-1])
    peak_mib = peak_kib / 1024
    # The interpreter, mitmproxy and the GeoIP reader take about 130 MiB; an inflated
    # bomb would add 1024.
    assert peak_mib < 400, f"peak RSS {peak_mib:.0f} MiB"
