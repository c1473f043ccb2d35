"""Cost of describing every flow (flow metadata stage + flows rows): replay with and without it.

Usage:
    python bench/flow_metadata.py [--flows 5000] [--repeat 3]

Generates a synthetic capture (captures/make_samples.py --flows N) and replays
it in this process ``--repeat`` times each way, alternating: the baseline is
the same pipeline with the flow-metadata stage taken out. Prints the best
flows/s of each, the ratio with/baseline, the flows rows stored, and the rate
of ``redact_url`` alone on the capture's URLs. Always exits 0.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from shekara.addons.flowmeta import FlowMetadata
from shekara.addons.guard import Stages
from shekara.audit.flowmeta import redact_url
from shekara.evidence import schema
from shekara.proxy import pipeline, replay

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "captures" / "make_samples.py"


def _without_metadata(addons: list[object]) -> None:
    for i, a in enumerate(addons):
        if isinstance(a, Stages):
            # The hooks are chained when the addon is made: make it again without the stage.
            kept = [g.stage for g in a.stages if not isinstance(g.stage, FlowMetadata)]
            addons[i] = Stages(kept, a.failures)


def run_once(capture: Path, workdir: Path, tag: str, with_metadata: bool) -> tuple[float, int]:
    db = f"sqlite:///{workdir / (tag + '.db')}"
    ctx = pipeline.build(db, "replay", home=workdir / "home")
    if not with_metadata:
        _without_metadata(ctx.addons)
    began = time.perf_counter()
    result = replay.replay(capture, ctx.addons, remark=ctx.remark)
    ctx.close(result.flows, "completed")
    seconds = time.perf_counter() - began
    with ctx.store.engine.connect() as conn:
        rows = int(conn.execute(select(func.count()).select_from(schema.flows)).scalar_one())
    ctx.store.dispose()
    return result.flows / seconds, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="shekara-flowmeta-"))
    try:
        capture = tmp / "bulk.mitm"
        subprocess.run(
            [sys.executable, str(GENERATOR), "--flows", str(args.flows), "--out", str(capture)],
            check=True,
            capture_output=True,
        )
        best = {"baseline": 0.0, "with": 0.0}
        rows = {"baseline": 0, "with": 0}
        for i in range(args.repeat):
            for name in ("baseline", "with"):
                rate, n = run_once(capture, tmp, f"{name}-{i}", name == "with")
                best[name] = max(best[name], rate)
                rows[name] = n
                print(f"  {name} run {i + 1}/{args.repeat}: {rate:.0f} flows/s", flush=True)
        print(f"{'':<10}{'flows/s':>10}{'flows rows':>12}")
        for name in ("baseline", "with"):
            print(f"{name:<10}{best[name]:>10.0f}{rows[name]:>12}")
        if best["baseline"]:
            print(f"ratio with/baseline: {best['with'] / best['baseline']:.2f}")

        from mitmproxy import http, io

        with capture.open("rb") as fh:
            targets = [
                (f.request.path, f.request.pretty_host)
                for f in io.FlowReader(fh).stream()
                if isinstance(f, http.HTTPFlow)
            ]
        began = time.perf_counter()
        for path, host in targets:
            redact_url(path, scheme="https", host=host)
        spent = time.perf_counter() - began
        print(f"redact_url alone: {len(targets) / spent:.0f} URLs/s over {len(targets)} URLs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
