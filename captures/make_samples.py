"""Writes the sample captures and their manifests, or a large synthetic capture for benchmarks.

Usage:
    python captures/make_samples.py [--out DIR]          # sample + labelled, with manifests
    python captures/make_samples.py --flows N --out FILE  # N varied flows for bench/throughput.py

Output is deterministic: the same script gives the same bytes on every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from mitmproxy import io
from mitmproxy.flow import Flow

sys.path.insert(0, str(Path(__file__).resolve().parent))

from samplegen.build import Capture
from samplegen.bulk import iter_bulk_flows
from samplegen.labelled import build_labelled
from samplegen.sample import build_sample

HERE = Path(__file__).resolve().parent

DESCRIPTIONS = {
    "sample": "One flow per decoding path (JSON, gzip, form, query, headers, base64, embedded "
    "JSON, tracks, GeoJSON, NMEA, polyline, WebSocket, MQTT, GT06, multipart uploads), decoys and "
    "undecodable bodies.",
    "labelled": "Varied vendor-style payloads with varied key names and plenty of benign "
    "flows and decoys, for bench/accuracy.py.",
}


def write_flows(path: Path, flows: Iterable[Flow]) -> int:
    count = 0
    with path.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
            count += 1
    return count


def write_capture(cap: Capture, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    capture_path = out_dir / f"{cap.name}.mitm"
    manifest_path = out_dir / f"{cap.name}.manifest.json"
    write_flows(capture_path, cap.flows)
    manifest = cap.manifest(DESCRIPTIONS[cap.name])
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return capture_path, manifest_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: captures/), or file with --flows",
    )
    parser.add_argument(
        "--flows",
        type=int,
        default=None,
        help="write N synthetic flows (~2.7 KB each) to --out FILE instead",
    )
    args = parser.parse_args(argv)

    if args.flows is not None:
        if args.out is None or args.flows < 1:
            parser.error("--flows N needs N >= 1 and --out FILE")
        n = write_flows(args.out, iter_bulk_flows(args.flows))
        print(f"wrote {n} flows to {args.out} ({args.out.stat().st_size} bytes)")
        return 0

    out_dir = args.out or HERE
    for cap in (build_sample(), build_labelled()):
        capture_path, manifest_path = write_capture(cap, out_dir)
        findings = sum(len(e["findings"]) for e in cap.entries.values())
        print(
            f"wrote {capture_path} ({len(cap.flows)} flows, {findings} expected findings) "
            f"and {manifest_path.name}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
