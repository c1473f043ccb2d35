"""Helpers of the durability tests: an upstream, a steady client, and a killable proxy.

Every request the client sends carries its own Luhn-valid IMEI in a JSON
body, so each acknowledged request (one that got the upstream's answer
through the proxy) names exactly one finding the store must hold. Every
request is made on a connection of its own, which the upstream counts: each
is one connection record the store must hold.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from stdnum import luhn

from shekara.audit.model import Category
from shekara.audit.redact import Redactor
from shekara.proxy.keys import hashing_key

SHEKARA = str(Path(sys.executable).with_name("shekara"))
UPSTREAM_BODY = b'{"ok": true}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(UPSTREAM_BODY)))
        self.end_headers()
        self.wfile.write(UPSTREAM_BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted += 1  # serve_forever's one thread calls this
        super().process_request(request, client_address)


class Upstream:
    """A loopback web server answering every POST with 200 JSON, on a thread.

    ``connections`` counts the connections it accepted: the proxy makes one
    per connection of the client, so each is one connection record.
    """

    def __init__(self) -> None:
        self.server = _CountingServer(("127.0.0.1", 0), _Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def connections(self) -> int:
        return self.server.accepted


def imei(prefix: int, n: int) -> str:
    body = f"35{prefix:03d}{n:09d}"
    return body + luhn.calc_check_digit(body)


class Traffic:
    """Client threads sending one unique IMEI per request; records which were acknowledged."""

    def __init__(self, proxy_port: int, upstream_port: int, threads: int = 4) -> None:
        self.proxy_port = proxy_port
        self.upstream_port = upstream_port
        self.acked: list[str] = []
        self.failed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def start(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)
            assert not t.is_alive(), "a client thread hangs"

    def _run(self, index: int) -> None:
        n = 0
        while not self._stop.is_set():
            value = imei(index, n)
            n += 1
            ok = self._send(value)
            with self._lock:
                (self.acked if ok else self.failed).append(value)
            if not ok:
                time.sleep(0.02)  # the proxy is down: do not spin

    def _send(self, value: str) -> bool:
        body = json.dumps({"device": {"imei": value}, "soc": 71}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=15)
        try:
            conn.request(
                "POST",
                f"http://127.0.0.1:{self.upstream_port}/telemetry",
                body=body,
                headers={"content-type": "application/json"},
            )
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
        return response.status == 200 and data == UPSTREAM_BODY


class Proxy:
    """``shekara proxy`` as a subprocess that can be killed and started again."""

    def __init__(self, home: Path, db_url: str, port: int, extra: Sequence[str] = ()) -> None:
        self.home = home
        self.db_url = db_url
        self.port = port
        self.spool = home / "spool"
        self.status = home / "status.json"
        self.log = home / "proxy.log"
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        env = {
            "SHEKARA_HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        argv = [SHEKARA, "proxy", "--listen-port", str(self.port), "--db", self.db_url]
        argv += ["--spool", str(self.spool), "--status-file", str(self.status), *self.extra]
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the proxy exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the proxy did not listen:\n{self.tail()}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def imei_hash_counts(db_url: str) -> Counter[str]:
    """How often each IMEI value hash is stored, over all runs."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT value_hash, count(*) FROM findings "
                    "WHERE category = 'imei' GROUP BY value_hash"
                )
            ).all()
            return Counter({h: int(n) for h, n in rows})
    finally:
        engine.dispose()


def check_exactly_once(home: Path, db_url: str, acked: Sequence[str]) -> Counter[str]:
    """Every acknowledged IMEI stored exactly once; no IMEI stored twice."""
    redactor = Redactor(hashing_key(home))
    counts = imei_hash_counts(db_url)
    missing = [v for v in acked if counts[redactor.value_hash(Category.IMEI, v)] == 0]
    assert not missing, (
        f"{len(missing)} acknowledged findings lost, e.g. #{acked.index(missing[0])}"
    )
    duplicated = {h: n for h, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} findings stored more than once"
    return counts


@dataclass(frozen=True)
class ConnectionRows:
    """The connection records of the upstream's port in the store, over all runs."""

    total: int
    flows: Counter[str]  # flow id -> how often it is stored
    started: list[float]

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.started if start <= t <= end)


def connection_rows(db_url: str, port: int) -> ConnectionRows:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT flow_id, started_at FROM connections WHERE port = :port"),
                {"port": port},
            ).all()
    finally:
        engine.dispose()
    return ConnectionRows(len(rows), Counter(r[0] for r in rows), [float(r[1]) for r in rows])


def check_connections_once(
    db_url: str, upstream: Upstream, lost_at_most: int = 0
) -> ConnectionRows:
    """A connection record per connection the upstream served (up to ``lost_at_most`` fewer).

    None is stored twice. A record is spooled when its connection ends; what a
    SIGKILL cuts off before then was never acknowledged, as a request cut off
    was never answered.
    """
    rows = connection_rows(db_url, upstream.port)
    twice = {k: n for k, n in rows.flows.items() if n > 1}
    assert not twice, f"{len(twice)} connection records stored more than once"
    assert rows.total <= upstream.connections, (rows.total, upstream.connections)
    assert rows.total >= upstream.connections - lost_at_most, (
        f"{upstream.connections - rows.total} of {upstream.connections} connection records lost"
    )
    return rows


def run_statuses(db_url: str) -> Counter[str]:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM runs GROUP BY status")).all()
            return Counter({s: int(n) for s, n in rows})
    finally:
        engine.dispose()


def verify(db_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``shekara verify --db URL``: every run's hash chain and signed closing statement."""
    env = {"SHEKARA_HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        [SHEKARA, "verify", "--db", db_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
