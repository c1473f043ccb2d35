"""Fail open: a live proxy whose analysis stage raises still serves the car untouched.

The proxy runs in this process (mitmproxy's DumpMaster with the real
pipeline, on loopback) so that one stage can be broken on purpose; the
upstream server echoes each request body, so any alteration would show.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from shekara.addons.detection import Detection
from shekara.addons.guard import Failures, Stages
from shekara.proxy import pipeline

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

VIN = "LSVAU218XN2183294"


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", self.headers.get("content-type", "text/plain"))
        self.send_header("x-echo", self.headers.get("x-vin", ""))
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


class Proxy:
    def __init__(self, ctx: pipeline.Context, port: int, confdir: Path) -> None:
        self.ctx, self.port, self.confdir = ctx, port, confdir
        self.loop: asyncio.AbstractEventLoop | None = None
        self.master: DumpMaster | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        opts = options.Options(
            listen_host="127.0.0.1", listen_port=self.port, confdir=str(self.confdir)
        )
        self.master = DumpMaster(opts, with_termlog=False, with_dumper=False)
        self.master.addons.add(*self.ctx.addons)
        self.loop = asyncio.get_running_loop()
        self.loop.call_later(0.5, self.ready.set)
        await self.master.run()

    def __enter__(self) -> Proxy:
        self.thread.start()
        assert self.ready.wait(20)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self.master is not None
        self.loop.call_soon_threadsafe(self.master.shutdown)
        self.thread.join(20)


def test_failing_stage_leaves_requests_unaffected(tmp_path: Path, upstream: int) -> None:
    ctx = pipeline.build(
        f"sqlite:///{tmp_path / 'f.db'}",
        "proxy",
        home=tmp_path / "home",
        spool_dir=tmp_path / "spool",
        live=True,
    )
    stages = ctx.addons[0]
    assert isinstance(stages, Stages)
    detection = stages.get("detection")
    assert isinstance(detection, Detection)

    def broken(*args: object) -> None:
        raise RuntimeError("deliberately broken detector")

    detection.response = broken  # type: ignore[method-assign]
    # The stages guarded again with the broken one in place, as pipeline() guards them.
    failures = Failures()
    ctx.addons[0] = Stages([g.stage for g in stages.stages], failures)
    port = free_port()
    bodies = [json.dumps({"vin": VIN, "seq": i, "pad": "x" * (i * 97)}) for i in range(12)]
    with (
        Proxy(ctx, port, tmp_path / "home" / "mitmproxy"),
        httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        replies = [
            client.post(
                f"http://127.0.0.1:{upstream}/report",
                content=b.encode(),
                headers={"content-type": "application/json", "x-vin": VIN},
            )
            for b in bodies
        ]
    ctx.close(len(bodies), "completed")

    # Every request reached the server unaltered and every answer came back unaltered.
    assert [r.status_code for r in replies] == [200] * len(bodies)
    assert [r.text for r in replies] == bodies
    assert all(r.headers["x-echo"] == VIN for r in replies)
    # The failures were counted, and each flow has a note saying it was not analysed.
    assert failures.by_stage == {"detection": len(bodies)}
    notes = ctx.store.query_notes(run_id=ctx.run_id, limit=100)
    reasons = [n.note.reason for n in notes if n.note.source == "analysis"]
    assert len(reasons) == len(bodies)
    assert all("not analysed: detection.response: RuntimeError" in r for r in reasons)
    # No finding came out of the broken stage; the run is still closed and sound.
    assert ctx.store.query_findings(run_id=ctx.run_id, limit=100) == []
    run = ctx.store.get_run(ctx.run_id)
    assert run is not None and run.status == "completed"
