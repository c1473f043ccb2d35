"""Flows per second of `shekara replay` next to plain `mitmdump -nr` on the same capture.

Usage:
    python bench/throughput.py [--flows 20000] [--repeat 3] [--keep DIR]

Generates a synthetic capture (captures/make_samples.py --flows N), then times
each tool ``--repeat`` times on it and reports the best run, the ratio
replay/mitmdump and each tool's peak RSS. The target is replay >= 0.8x the
mitmdump baseline; the script always exits 0 and prints whether it was met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "captures" / "make_samples.py"
TARGET_RATIO = 0.8  # replay must keep >= 0.8x the flows/s of plain mitmdump


def sibling_script(name: str, module: str) -> list[str]:
    """A console script next to this interpreter, else ``python -m module``."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", module]


def mitmdump_command() -> list[str]:
    script = Path(sys.executable).with_name("mitmdump")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()"]


@dataclass
class Timing:
    seconds: float
    peak_rss_kib: int
    returncode: int
    stdout_lines: int


def run_measured(cmd: list[str], workdir: Path, tag: str) -> Timing:
    """Run ``cmd`` to completion; wall time and the child's own peak RSS (wait4 rusage)."""
    out_path = workdir / f"{tag}.stdout"
    err_path = workdir / f"{tag}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    with out_path.open("rb") as fh:
        lines = sum(1 for _ in fh)
    if proc.returncode != 0:
        tail = err_path.read_text(errors="replace")[-1500:]
        print(f"  ! {tag} exited {proc.returncode}:\n{tail}", file=sys.stderr)
    # Linux reports ru_maxrss in KiB.
    return Timing(seconds, usage.ru_maxrss, proc.returncode, lines)


def bench(
    name: str, make_cmd: list[str] | None, repeat: int, workdir: Path, db_per_run: bool = False
) -> list[Timing]:
    runs: list[Timing] = []
    for i in range(repeat):
        cmd = list(make_cmd or [])
        if db_per_run:
            cmd += ["--db", f"sqlite:///{workdir / f'replay-{i}.sqlite'}"]
        t = run_measured(cmd, workdir, f"{name}-{i}")
        print(
            f"  {name} run {i + 1}/{repeat}: {t.seconds:.2f} s, peak RSS "
            f"{t.peak_rss_kib / 1024:.0f} MiB, exit {t.returncode}",
            flush=True,
        )
        runs.append(t)
    return runs


def summarise(name: str, runs: list[Timing], flows: int) -> tuple[float, float]:
    ok = [r for r in runs if r.returncode == 0]
    if not ok:
        print(f"{name:<10}{'failed':>10}")
        return 0.0, 0.0
    best = min(r.seconds for r in ok)
    median = statistics.median(r.seconds for r in ok)
    rss = max(r.peak_rss_kib for r in ok) / 1024
    print(f"{name:<10}{best:>10.2f}{median:>10.2f}{flows / best:>12.0f}{rss:>14.0f}")
    return flows / best, rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (best is kept)")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the generated capture and outputs in this directory",
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="shekara-throughput-"))
    try:
        capture = tmp / "bulk.mitm"
        print(f"generating {args.flows} flows ...", flush=True)
        subprocess.run(
            [sys.executable, str(GENERATOR), "--flows", str(args.flows), "--out", str(capture)],
            check=True,
        )

        mitmdump = [*mitmdump_command(), "-q", "-nr", str(capture)]
        replay = [
            *sibling_script("shekara", "shekara.proxy.cli"),
            "replay",
            str(capture),
            "--format",
            "jsonl",
        ]

        print("mitmdump (baseline):", " ".join(mitmdump), flush=True)
        base_runs = bench("mitmdump", mitmdump, args.repeat, tmp)
        print("shekara replay:", " ".join(replay), "--db sqlite:///…", flush=True)
        replay_runs = bench("replay", replay, args.repeat, tmp, db_per_run=True)

        print(f"\n{args.flows} flows, {capture.stat().st_size / 1e6:.1f} MB, best of {args.repeat}")
        print(f"{'tool':<10}{'best s':>10}{'median s':>10}{'flows/s':>12}{'peak RSS MiB':>14}")
        base_rate, _ = summarise("mitmdump", base_runs, args.flows)
        replay_rate, _ = summarise("replay", replay_runs, args.flows)
        findings = max((r.stdout_lines for r in replay_runs if r.returncode == 0), default=0)
        print(f"replay printed {findings} findings (jsonl lines)")
        ratio = replay_rate / base_rate if base_rate and replay_rate else 0.0
        verdict = "MET" if ratio >= TARGET_RATIO else "NOT MET"
        shown = f"{ratio:.2f}x" if ratio else "n/a (a tool failed)"
        target = f"target ≥ {TARGET_RATIO}×"  # noqa: RUF001 - the report's wording
        print(f"ratio replay/mitmdump: {shown}   {target}: {verdict}")
    finally:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for item in tmp.iterdir():
                shutil.move(str(item), args.keep / item.name)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
