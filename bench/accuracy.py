"""Precision and recall of `shekara replay` against the labelled captures' manifests.

Usage:
    python bench/accuracy.py [CAPTURE.mitm ...] [--ruleset DIR] [--min-precision 0.97]
                             [--min-recall 0.95]

Each capture is replayed with ``--format jsonl`` into a throw-away SQLite
database; findings are compared with ``CAPTURE.manifest.json`` as
(flow_id, category) pairs. Exit code 1 when precision or recall is below its
target, 2 when a replay itself failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shekara.audit.model import Category
from shekara.audit.redact import mask_known, preview

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CAPTURES = (ROOT / "captures" / "labelled.mitm", ROOT / "captures" / "sample.mitm")

Pair = tuple[str, str]  # (flow_id, category)


def shekara_command() -> list[str]:
    """The `shekara` script installed next to this interpreter, else `python -m`."""
    script = Path(sys.executable).with_name("shekara")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "shekara.proxy.cli"]


def manifest_path(capture: Path) -> Path:
    return capture.with_name(capture.name.removesuffix(".mitm") + ".manifest.json")


@dataclass
class Expected:
    pairs: set[Pair] = field(default_factory=set)
    fields: dict[Pair, list[str]] = field(default_factory=dict)
    violation: dict[Pair, bool] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)


def load_manifest(path: Path) -> Expected:
    data = json.loads(path.read_text())
    exp = Expected()
    for flow_id, entry in data["flows"].items():
        exp.names[flow_id] = entry.get("name", "")
        exp.hosts[flow_id] = entry.get("host", "")
        # Detected values inside a locator (a VIN in an MQTT topic) are stored masked.
        secrets = {
            f["value"]: preview(Category(f["category"]), f["value"])
            for f in entry["findings"]
            if isinstance(f["value"], str) and len(f["value"]) >= 6
        }
        for f in entry["findings"]:
            pair = (flow_id, f["category"])
            exp.pairs.add(pair)
            exp.fields.setdefault(pair, []).append(mask_known(f["field"], secrets))
            exp.violation[pair] = bool(f["violation"])
    return exp


@dataclass
class Run:
    findings: list[dict[str, Any]]
    returncode: int
    stderr: str


def replay(capture: Path, ruleset: Path | None, workdir: Path) -> Run:
    db = workdir / f"{capture.stem}.sqlite"
    cmd = [
        *shekara_command(),
        "replay",
        str(capture),
        "--format",
        "jsonl",
        "--db",
        f"sqlite:///{db}",
    ]
    if ruleset is not None:
        cmd += ["--ruleset", str(ruleset)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    findings = []
    for n, line in enumerate(proc.stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            findings.append(json.loads(line))
        except json.JSONDecodeError:
            print(f"  ! stdout line {n} is not JSON: {line[:120]!r}", file=sys.stderr)
    return Run(findings, proc.returncode, proc.stderr)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn


def score(expected: set[Pair], found: set[Pair]) -> tuple[Score, dict[str, Score]]:
    """Overall and per-category counts of (flow_id, category) agreement."""
    per: dict[str, Score] = {}
    for _, cat in expected | found:
        per.setdefault(cat, Score())
    for pair in expected & found:
        per[pair[1]].tp += 1
    for pair in found - expected:
        per[pair[1]].fp += 1
    for pair in expected - found:
        per[pair[1]].fn += 1
    total = Score()
    for s in per.values():
        total.add(s)
    return total, per


def print_table(per: dict[str, Score], total: Score) -> None:
    print(f"  {'category':<15}{'TP':>6}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>9}")
    for cat in sorted(per):
        s = per[cat]
        print(f"  {cat:<15}{s.tp:>6}{s.fp:>6}{s.fn:>6}{s.precision:>11.3f}{s.recall:>9.3f}")
    print(
        f"  {'ALL':<15}{total.tp:>6}{total.fp:>6}{total.fn:>6}"
        f"{total.precision:>11.3f}{total.recall:>9.3f}"
    )


def evaluate(capture: Path, ruleset: Path | None, workdir: Path) -> tuple[Score, dict[str, Score]]:
    exp = load_manifest(manifest_path(capture))
    run = replay(capture, ruleset, workdir)
    if run.returncode != 0:
        print(
            f"{capture.name}: replay exited {run.returncode}\n{run.stderr[-2000:]}", file=sys.stderr
        )
        raise SystemExit(2)
    found_fields: dict[Pair, list[dict[str, Any]]] = {}
    for f in run.findings:
        found_fields.setdefault((str(f.get("flow_id")), str(f.get("category"))), []).append(f)
    found = set(found_fields)
    total, per = score(exp.pairs, found)

    print(
        f"\n== {capture.name}: {len(exp.names)} flows, {len(exp.pairs)} expected pairs, "
        f"{len(run.findings)} findings reported =="
    )
    print_table(per, total)

    # Informational: exact locator and violation agreement on the pairs that matched.
    matched = exp.pairs & found
    exact = sum(
        1 for p in matched if set(exp.fields[p]) <= {str(f.get("field")) for f in found_fields[p]}
    )
    verdicts = sum(
        1
        for p in matched
        if all(bool(f.get("violation")) == exp.violation[p] for f in found_fields[p])
    )
    print(
        f"  matched pairs with every expected locator: {exact}/{len(matched)}; "
        f"with the expected violation flag: {verdicts}/{len(matched)}"
    )
    unknown = {p[0] for p in found} - set(exp.names)
    if unknown:
        print(f"  ! {len(unknown)} reported flow ids are not in the manifest")

    for flow_id, cat in sorted(found - exp.pairs, key=lambda p: (p[1], exp.names.get(p[0], ""))):
        fields = sorted({str(f.get("field")) for f in found_fields[(flow_id, cat)]})
        print(f"  FP {cat:<14} {exp.names.get(flow_id, flow_id):<28} {', '.join(fields)}")
    for flow_id, cat in sorted(exp.pairs - found, key=lambda p: (p[1], exp.names.get(p[0], ""))):
        print(
            f"  FN {cat:<14} {exp.names.get(flow_id, flow_id):<28} "
            f"{', '.join(exp.fields[(flow_id, cat)])}"
        )
    return total, per


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("captures", nargs="*", type=Path, default=list(DEFAULT_CAPTURES))
    parser.add_argument("--ruleset", type=Path, default=None)
    parser.add_argument("--min-precision", type=float, default=0.97)
    parser.add_argument("--min-recall", type=float, default=0.95)
    args = parser.parse_args(argv)

    overall = Score()
    per_all: dict[str, Score] = {}
    with tempfile.TemporaryDirectory(prefix="shekara-accuracy-") as tmp:
        for capture in args.captures:
            total, per = evaluate(capture, args.ruleset, Path(tmp))
            overall.add(total)
            for cat, s in per.items():
                per_all.setdefault(cat, Score()).add(s)

    if len(args.captures) > 1:
        print("\n== all captures ==")
        print_table(per_all, overall)
    ok = overall.precision >= args.min_precision and overall.recall >= args.min_recall
    print(
        f"\nprecision {overall.precision:.3f} (target >= {args.min_precision}), "
        f"recall {overall.recall:.3f} (target >= {args.min_recall}), "
        f"TP {overall.tp} FP {overall.fp} FN {overall.fn}: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
