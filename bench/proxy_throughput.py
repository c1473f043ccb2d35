"""Requests/s and p99 latency through `shekara proxy` next to bare `mitmdump`, same mode, same run.

Usage:
    python bench/proxy_throughput.py [--seconds 15] [--connections 8] [--rounds 2]
                                     [--flows 100000] [--personal] [--reconnect]

A small asyncio HTTP server on loopback answers every request with a small
JSON body. A load generator keeps ``--connections`` keep-alive connections
through the proxy under test (regular mode) and sends small JSON POSTs as
fast as the answers come back, for ``--seconds``; rounds alternate
mitmdump / shekara so that drift of the machine hits both alike. Then the
shekara proxy carries ``--flows`` requests in all, and its resident memory
is sampled along the way: flat means no per-flow growth.

``--flow-records all`` has shekara keep a metadata row for every flow, not
only for those with findings or notes (its default).

``--personal`` puts a VIN and coordinates in every body, so that every
request also makes findings (spooled, then stored); without it the JSON is
benign and the figure is the analysis cost alone. ``--reconnect`` opens a
new connection for every request, as trackers that wake, send and hang up
do: every request then also makes a connection record (spooled, then stored).

Targets: shekara >= 0.8x mitmdump's requests/s, p99 latency within 1.3x.
The script always exits 0 and prints whether they were met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_RATIO = 0.8
TARGET_P99 = 1.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


# -- upstream ----------------------------------------------------------------------

ANSWER = b'{"ok":true,"next_report_s":30}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(ANSWER)).encode()
    + b"\r\n\r\n"
    + ANSWER
)


async def serve_upstream(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


# -- load --------------------------------------------------------------------------


def body(i: int, personal: bool) -> bytes:
    d: dict[str, object] = {"seq": i, "soc": 76.5, "odometer": 12345 + i, "doors": "closed"}
    if personal:
        d.update(vin="LSVAU218XN2183294", lat=43.238949, lon=76.889709)
    return json.dumps(d).encode()


async def one_connection(
    proxy_port: int,
    upstream_port: int,
    deadline: float,
    limit: list[int],
    latencies: list[float],
    personal: bool,
    reconnect: bool,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    i = 0
    try:
        while time.monotonic() < deadline and limit[0] > 0:
            limit[0] -= 1
            if reconnect and i:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
            b = body(i, personal)
            req = (
                f"POST http://127.0.0.1:{upstream_port}/v1/report HTTP/1.1\r\n"
                f"host: 127.0.0.1:{upstream_port}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(b)}\r\n\r\n"
            ).encode() + b
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            i += 1
    finally:
        writer.close()


async def load(
    proxy_port: int,
    upstream_port: int,
    seconds: float,
    connections: int,
    personal: bool,
    total: int = 10**12,
    reconnect: bool = False,
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    limit = [total]
    start = time.monotonic()
    await asyncio.gather(
        *(
            one_connection(
                proxy_port, upstream_port, start + seconds, limit, latencies, personal, reconnect
            )
            for _ in range(connections)
        )
    )
    return time.monotonic() - start, latencies


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: per request, a figure the load barely moves."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_proxy(
    kind: str, port: int, work: Path, flow_records: str = "evidence"
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHEKARA_HOME": str(work / "home")}
    if kind == "mitmdump":
        cmd = [console("mitmdump"), "--mode", "regular", "--listen-host", "127.0.0.1"]
        cmd += ["-p", str(port), "-q", "--set", f"confdir={work / 'home' / 'mitmproxy'}"]
    else:
        cmd = [console("shekara"), "proxy", "--mode", "regular", "--listen-port", str(port)]
        cmd += ["--db", f"sqlite:///{work / 'bench.db'}", "--flow-records", flow_records]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    cpu_ms: float  # proxy CPU time per request


def summarise(elapsed: float, lat: list[float], cpu: float) -> Result:
    lat = sorted(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return Result(
        len(lat) / elapsed,
        statistics.median(lat) * 1000,
        p99 * 1000,
        len(lat),
        cpu * 1000 / max(1, len(lat)),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--flows", type=int, default=100_000)
    ap.add_argument("--personal", action="store_true")
    ap.add_argument("--reconnect", action="store_true", help="a new connection per request")
    ap.add_argument("--flow-records", choices=["evidence", "all"], default="evidence")
    ap.add_argument("--upstream", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.upstream is not None:
        asyncio.run(serve_upstream(args.upstream))
        return

    work = Path(tempfile.mkdtemp(prefix="shekara-bench-"))
    upstream_port = free_port()
    # The upstream runs in its own process, the load generator in this one.
    upstream = subprocess.Popen([sys.executable, __file__, "--upstream", str(upstream_port)])
    wait_port(upstream_port)
    loop = asyncio.new_event_loop()
    results: dict[str, list[Result]] = {"mitmdump": [], "shekara": []}
    try:
        for rnd in range(args.rounds):
            for kind in ("mitmdump", "shekara"):
                port = free_port()
                proc = start_proxy(kind, port, work, args.flow_records)
                try:
                    # A short warm-up, then the measured run.
                    loop.run_until_complete(load(port, upstream_port, 1.0, 2, args.personal))
                    cpu0 = cpu_seconds(proc.pid)
                    elapsed, lat = loop.run_until_complete(
                        load(
                            port,
                            upstream_port,
                            args.seconds,
                            args.connections,
                            args.personal,
                            reconnect=args.reconnect,
                        )
                    )
                    cpu = cpu_seconds(proc.pid) - cpu0
                finally:
                    stop(proc)
                r = summarise(elapsed, lat, cpu)
                results[kind].append(r)
                print(
                    f"round {rnd + 1} {kind:9s} {r.rps:7.1f} req/s  p50 {r.p50_ms:6.1f} ms  "
                    f"p99 {r.p99_ms:6.1f} ms  CPU {r.cpu_ms:5.2f} ms/req  ({r.requests} requests)",
                    flush=True,
                )
        best = {k: max(v, key=lambda r: r.rps) for k, v in results.items()}
        ratio = best["shekara"].rps / best["mitmdump"].rps
        p99_ratio = best["shekara"].p99_ms / best["mitmdump"].p99_ms
        cpu = {k: statistics.median(r.cpu_ms for r in v) for k, v in results.items()}
        print(
            f"\nCPU per request (median of rounds): mitmdump {cpu['mitmdump']:.2f} ms, "
            f"shekara {cpu['shekara']:.2f} ms: CPU-bound capacity ratio "
            f"{cpu['mitmdump'] / cpu['shekara']:.2f}x",
            flush=True,
        )
        print(
            f"shekara / mitmdump (best rounds): {ratio:.2f}x requests/s "
            f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}), "
            f"p99 {p99_ratio:.2f}x (target <= {TARGET_P99}: "
            f"{'met' if p99_ratio <= TARGET_P99 else 'NOT met'})",
            flush=True,
        )

        if args.flows:
            port = free_port()
            proc = start_proxy("shekara", port, work, args.flow_records)
            samples: list[tuple[int, int]] = []
            done = 0
            try:
                step = max(1, args.flows // 10)
                while done < args.flows:
                    n = min(step, args.flows - done)
                    _, lat = loop.run_until_complete(
                        load(
                            port,
                            upstream_port,
                            3600,
                            args.connections,
                            args.personal,
                            n,
                            reconnect=args.reconnect,
                        )
                    )
                    done += len(lat)
                    samples.append((done, rss_kib(proc.pid)))
                    print(f"{done:7d} flows: RSS {samples[-1][1] / 1024:6.1f} MiB", flush=True)
            finally:
                stop(proc)
            first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
            growth = (last[1] - first[1]) / 1024
            per_flow = (last[1] - first[1]) * 1024 / max(1, last[0] - first[0])
            print(
                f"RSS from {first[0]} to {last[0]} flows: {growth:+.1f} MiB "
                f"({per_flow:.1f} bytes/flow)",
                flush=True,
            )
    finally:
        upstream.kill()
        upstream.wait()
        loop.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
