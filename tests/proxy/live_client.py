"""Sends the live test's requests through the proxy (run inside the test namespace)."""

from __future__ import annotations

import gzip
import json
import socket
import sys
import time

import httpx

proxy_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", proxy_port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("proxy did not start listening")
        time.sleep(0.2)

requests = json.loads(sys.stdin.read())
with httpx.Client(proxy=f"http://127.0.0.1:{proxy_port}", timeout=10) as client:
    for r in requests:
        body = json.dumps(r["json"]).encode() if "json" in r else None
        headers = dict(r.get("headers", {}))
        if body is not None:
            headers["content-type"] = "application/json"
            if r.get("gzip"):
                body = gzip.compress(body)
                headers["content-encoding"] = "gzip"
        resp = client.request(
            r["method"],
            f"http://{r['host']}:{upstream_port}{r['path']}",
            content=body,
            headers=headers,
        )
        print(resp.status_code, resp.text, flush=True)
