"""``shekara replay``: captures (.mitm, pcap, pcapng, HAR) analysed into stored runs.

Without ``--jobs`` each capture is its own run. With ``--jobs N`` the
captures are read by N worker processes into ONE run, each worker with its
own addons and store writer; the run records every file with its sha256 and
the whole input's digest, and is closed (signed) once all workers are done.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from shekara.audit.model import Finding, Note

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DAMAGED = 2

# Why refused: scapy's TLS layer (2.8), given an NSS key log, lost a TLS 1.2 server's
# records once they spanned TCP segments and decrypted no TLS 1.3 record at all; a
# replay must not pass off half a session as read, nor keep a TLS stack of its own.
KEYLOG_UNSUPPORTED = (
    "decrypting TLS with a key log file is not supported: encrypted connections in packet "
    "captures are recorded as undetermined-content transfers (server name, JA3/JA4 fingerprint "
    "and byte counts). Capture through 'shekara proxy' to read their content"
)

Sink = Callable[[Sequence[Finding], Sequence[Note]], None]


def add_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar with rate and ETA even when stderr is not a terminal",
    )
    r.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="read the captures in N parallel processes into one run",
    )
    r.add_argument(
        "--keylog",
        default=None,
        metavar="SSLKEYLOGFILE",
        help="TLS key log file: not supported (refused with an explanation)",
    )


def stage_options(args: argparse.Namespace) -> dict[str, object]:
    """The analysis stages' mitmproxy options a replay's arguments set."""
    opts: dict[str, object] = {}
    if args.proto:
        opts["shekara_proto"] = args.proto
    if getattr(args, "flow_records", None):
        opts["shekara_flow_records"] = args.flow_records
    return opts


def _progress_bar(path: Path, show: bool) -> tuple[Callable[[int], None] | None, Any]:
    if not show:
        return None, None
    from tqdm import tqdm

    bar = tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=path.name,
        file=sys.stderr,
        leave=True,
    )

    def update(offset: int) -> None:
        bar.update(max(0, offset - bar.n))

    return update, bar


def _show_progress(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def _entry(path: Path, sha256: str, result: Any) -> dict[str, Any]:
    return {
        "path": str(path),
        "sha256": sha256,
        "format": result.format,
        "flows": result.flows,
        "packets": result.packets,
        "error": result.error,
    }


def run(
    args: argparse.Namespace,
    sinks: Sequence[Sink],
    print_table: Callable[..., None],
    print_doubtful: Callable[..., None] | None = None,
) -> int:
    from shekara.proxy import pipeline, replay

    if getattr(args, "keylog", None):
        print(f"shekara: {KEYLOG_UNSUPPORTED}", file=sys.stderr)
        return EXIT_ERROR
    jobs = getattr(args, "jobs", None)
    if jobs is not None and jobs < 1:
        print("shekara: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_OK
    paths: list[Path] = []
    for capture in args.captures:
        path = Path(capture)
        if not path.is_file():
            print(f"shekara: {path}: no such capture file", file=sys.stderr)
            status = EXIT_ERROR
        else:
            paths.append(path)
    if jobs is not None:
        if paths:
            status = max(status, _run_jobs(args, paths, jobs, print_table, print_doubtful))
        return status
    opts = stage_options(args)
    for path in paths:
        sha = replay.sha256_file(path)
        ctx = pipeline.build(
            args.db,
            "replay",
            ruleset_path=args.ruleset,
            geoip=args.geoip,
            capture=str(path),
            capture_sha256=sha,
            sinks=sinks,
            connections=replay.keeps_connections(path),
        )
        update, bar = _progress_bar(path, _show_progress(args))
        try:
            result = replay.replay(path, ctx.addons, opts, remark=ctx.remark, progress=update)
        finally:
            if bar is not None:
                bar.close()
        ctx.store.record_captures(ctx.run_id, [_entry(path, sha, result)])
        ctx.close(result.flows, "failed" if result.error else "completed", result.error)
        summary = ctx.store.summary(ctx.run_id)
        total = sum(n for *_, n in summary)
        detail = f" ({result.detail})" if result.detail else ""
        print(
            f"{path}: {result.flows} flows{detail}, run {ctx.run_id}, "
            f"{total} cross-border transfers observed",
            file=sys.stderr,
        )
        if args.format == "table":
            print_table(summary)
        if print_doubtful is not None:
            print_doubtful(ctx.store, ctx.run_id)
        if result.error:
            print(f"shekara: {result.error}; findings before it were kept", file=sys.stderr)
            status = EXIT_DAMAGED
    return status


def _jsonl_lines(findings: Sequence[Finding], notes: Sequence[Note]) -> None:
    """One write per finding: lines of workers sharing standard output never interleave."""
    import json
    import os

    from shekara.proxy.cli import finding_json

    for f in findings:
        os.write(1, (json.dumps(finding_json(f), ensure_ascii=False) + "\n").encode())


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    """One capture read into a run another process owns."""
    from shekara.proxy import pipeline, replay

    path = Path(job["path"])
    sinks: list[Sink] = []
    if job["jsonl"]:
        sinks.append(_jsonl_lines)
    ctx = pipeline.build(
        job["db"],
        "replay",
        ruleset_path=job["ruleset"],
        geoip=job["geoip"],
        sinks=sinks,
        run_id=job["run_id"],
        connections=replay.keeps_connections(path),
    )
    try:
        result = replay.replay(path, ctx.addons, job["opts"], remark=ctx.remark)
    finally:
        stored = ctx.release()
    entry = _entry(path, replay.sha256_file(path), result)
    if not stored:
        entry["error"] = (entry["error"] or "") + " (some findings could not be stored)"
    return entry


def _run_jobs(
    args: argparse.Namespace,
    paths: list[Path],
    jobs: int,
    print_table: Callable[..., None],
    print_doubtful: Callable[..., None] | None = None,
) -> int:
    from shekara.proxy import pipeline

    ctx = pipeline.build(
        args.db,
        "replay",
        ruleset_path=args.ruleset,
        geoip=args.geoip,
        capture=", ".join(str(p) for p in paths),
    )
    base = {
        "db": args.db,
        "ruleset": args.ruleset,
        "geoip": list(args.geoip),
        "opts": stage_options(args),
        "run_id": ctx.run_id,
        "jsonl": args.format == "jsonl",
    }
    entries: list[dict[str, Any]] = []
    bar = None
    if _show_progress(args):
        from tqdm import tqdm

        bar = tqdm(
            total=sum(p.stat().st_size for p in paths),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"{len(paths)} captures",
            file=sys.stderr,
            leave=True,
        )
    try:
        # Spawned, not forked: the parent holds database connections and a writer thread.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_worker, {**base, "path": str(p)}): p for p in paths}
            for fut in as_completed(futures):
                path = futures[fut]
                try:
                    entries.append(fut.result())
                except Exception as e:  # a worker that died is an error of its file
                    entries.append(
                        {
                            "path": str(path),
                            "sha256": None,
                            "format": None,
                            "flows": 0,
                            "packets": 0,
                            "error": f"{path}: worker failed: {type(e).__name__}: {e}",
                        }
                    )
                if bar is not None:
                    bar.update(path.stat().st_size)
    finally:
        if bar is not None:
            bar.close()
    order = {str(p): i for i, p in enumerate(paths)}
    entries.sort(key=lambda e: order[e["path"]])
    digest = hashlib.sha256(
        "".join(f"{e['sha256']}  {e['path']}\n" for e in entries).encode()
    ).hexdigest()
    ctx.store.record_captures(ctx.run_id, entries, digest)
    errors = [e["error"] for e in entries if e["error"]]
    flows = sum(int(e["flows"]) for e in entries)
    ctx.close(flows, "failed" if errors else "completed", "; ".join(errors) or None)
    summary = ctx.store.summary(ctx.run_id)
    total = sum(n for *_, n in summary)
    print(
        f"{len(paths)} captures: {flows} flows, run {ctx.run_id}, "
        f"{total} cross-border transfers observed",
        file=sys.stderr,
    )
    if args.format == "table":
        print_table(summary)
    if print_doubtful is not None:
        print_doubtful(ctx.store, ctx.run_id)
    for err in errors:
        print(f"shekara: {err}; findings before it were kept", file=sys.stderr)
    return EXIT_DAMAGED if errors else EXIT_OK
