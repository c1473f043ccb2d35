"""The README's main-job command: replay the bundled captures, print the table, serve the API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(300)
def test_demo_prints_table_and_serves_api(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            str(ROOT / "scripts" / "demo.sh"),
            "--port",
            str(port),
            "--db-file",
            str(tmp_path / "demo.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("API on"):
                break
        key = next(line for line in lines if line.startswith("API key")).split()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        header = next(i for i, line in enumerate(lines) if line.startswith("COUNTRY"))
        assert lines[header].split() == ["COUNTRY", "HOST", "CATEGORY", "COUNT"]
        rows = [
            line.split()
            for line in lines[header + 2 :]
            if line.strip() and not line.startswith(("COUNTRY", "---", "API", " ", "Dashboard"))
        ]
        assert {r[0] for r in rows} >= {"CN", "DE", "RU"} and "KZ" not in {r[0] for r in rows}

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    assert json.load(r)["status"] == "ok"
                break
            except OSError:
                assert time.monotonic() < deadline, "API did not come up"
                time.sleep(0.2)
        # Without the printed key the API answers 401; with it, the violations.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/violations", timeout=5)
        assert refused.value.code == 401
        request = urllib.request.Request(f"{base}/violations?country=CN&limit=5", headers=headers)
        with urllib.request.urlopen(request, timeout=5) as r:
            page = json.load(r)
        assert page["count"] > 5 and len(page["data"]) == 5 and page["next"]
        assert all(v["destination"]["country"] == "CN" for v in page["data"])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
