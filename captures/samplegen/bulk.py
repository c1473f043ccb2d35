"""A large synthetic capture for bench/throughput.py: the labelled templates, padded to ~2.7 KB.

Flows are built in small batches and yielded, so a 20,000-flow capture never
sits in memory at once.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from mitmproxy import http, io
from mitmproxy.flow import Flow

from .build import Capture
from .labelled import Ctx, _schedule

SEED = 808
T0 = 1_733_133_600.0
BATCH = 200
TARGET_BYTES = 2700


def _serialised_size(flow: Flow) -> int:
    return len(io.tnetstring.dumps(flow.get_state()))


def _pad(flow: Flow, rng: random.Random) -> None:
    """Grow the response body (a config blob, as vendors send) to reach ~TARGET_BYTES."""
    if not isinstance(flow, http.HTTPFlow) or flow.response is None or flow.websocket:
        return
    target = TARGET_BYTES + rng.randint(-300, 300)
    missing = target - _serialised_size(flow)
    if missing <= 40:
        return
    items: list[tuple[str, str]] = []
    while missing > 40:
        key = f"feature_{len(items):03d}"
        value = rng.randbytes(min(48, max(1, (missing - 30) // 2))).hex()
        items.append((key, value))
        missing -= len(key) + len(value) + 6
    body = json.dumps({"code": 0, "msg": "success", "data": dict(items)}).encode()
    flow.response.content = body


def iter_bulk_flows(n: int) -> Iterator[Flow]:
    rng = random.Random(SEED)
    made = 0
    batch_no = 0
    while made < n:
        cap = Capture(f"bulk-{batch_no:05d}", T0 + batch_no * BATCH, step=1.0)
        ctx = Ctx(cap, rng)
        for i, template in enumerate(_schedule(rng)[: min(BATCH, n - made)]):
            template(ctx, f"{template.__name__}-{i}")
        for flow in cap.flows:
            _pad(flow, rng)
            yield flow
        made += len(cap.flows)
        batch_no += 1
