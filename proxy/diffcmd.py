"""``shekara diff RUN_A RUN_B``: what changed between two analyses of the same traffic.

Findings are matched across the two runs by flow, field and category (the
same key the store deduplicates on within a run), so a capture replayed under
another ruleset or with newer geolocation data lines up finding by finding.
Flow ids are the capture's own (.mitm) or derived from it deterministically
(pcap, pcapng, HAR), so they agree between replays of one capture.
A matched finding whose destination country, verdict, rule or value differs
is "changed", with each difference listed; the rest are "added" or "removed".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shekara.evidence.rows import StoredFinding
from shekara.evidence.store import MAX_LIMIT, FindingStore, StoreError

EXIT_OK = 0
EXIT_ERROR = 1

Key = tuple[str, str, str]

#: The attributes compared, as (name, getter).
ATTRIBUTES: tuple[tuple[str, Callable[[StoredFinding], Any]], ...] = (
    ("country", lambda s: s.finding.destination.country),
    ("verdict", lambda s: s.finding.verdict.value),
    ("violation", lambda s: s.finding.violation),
    ("rule", lambda s: s.finding.rule_id),
    ("severity", lambda s: s.finding.severity),
    ("host", lambda s: s.finding.destination.host),
    ("ip", lambda s: s.finding.destination.ip),
    ("geo_source", lambda s: s.finding.destination.geo_source),
    ("geo_build", lambda s: s.finding.destination.geo_build),
    ("value_hash", lambda s: s.finding.value_hash),
    ("confidence", lambda s: s.finding.confidence.value),
)


@dataclass
class Diff:
    added: list[StoredFinding] = field(default_factory=list)
    removed: list[StoredFinding] = field(default_factory=list)
    changed: list[tuple[StoredFinding, StoredFinding, dict[str, tuple[Any, Any]]]] = field(
        default_factory=list
    )
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def key(s: StoredFinding) -> Key:
    return (s.finding.flow_id, s.finding.field, s.finding.category.value)


def _findings(store: FindingStore, run_id: int) -> Iterator[StoredFinding]:
    after: int | None = None
    while True:
        page = store.query_findings(run_id=run_id, after_id=after, limit=MAX_LIMIT)
        yield from page
        if len(page) < MAX_LIMIT:
            return
        after = page[-1].id


def diff_runs(store: FindingStore, run_a: int, run_b: int) -> Diff:
    a = {key(s): s for s in _findings(store, run_a)}
    d = Diff()
    for sb in _findings(store, run_b):
        sa = a.pop(key(sb), None)
        if sa is None:
            d.added.append(sb)
            continue
        changes = {name: (get(sa), get(sb)) for name, get in ATTRIBUTES if get(sa) != get(sb)}
        if changes:
            d.changed.append((sa, sb, changes))
        else:
            d.unchanged += 1
    d.removed = list(a.values())
    return d


def _brief(s: StoredFinding) -> dict[str, Any]:
    f = s.finding
    return {
        "flow_id": f.flow_id,
        "field": f.field,
        "category": f.category.value,
        "preview": f.preview,
        "host": f.destination.host,
        "ip": f.destination.ip,
        "country": f.destination.country,
        "verdict": f.verdict.value,
        "violation": f.violation,
        "rule": f.rule_id,
    }


def _line(s: StoredFinding) -> str:
    f = s.finding
    return (
        f"{f.category.value} {f.field} (flow {f.flow_id}) → {f.destination.host or '?'} "
        f"[{f.destination.country or '??'}] {f.verdict.value} by {f.rule_id}"
    )


def _fmt(v: Any) -> str:
    return "—" if v is None else str(v)


def print_text(d: Diff, a: Any, b: Any, out: Any = None) -> None:
    out = out or sys.stdout
    for label, run in (("A", a), ("B", b)):
        geo = ", ".join(
            f"{g.get('name')} {g.get('build')}"
            for g in (run.geo_sources or [])
            if isinstance(g, dict)
        )
        print(
            f"run {label}: {run.id} {run.kind} {run.capture or ''} ruleset {run.ruleset_name} "
            f"{run.ruleset_version}; geolocation {geo or 'none'}",
            file=out,
        )
    print(
        f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed, "
        f"{d.unchanged} unchanged",
        file=out,
    )
    for s in d.added:
        print(f"+ {_line(s)}", file=out)
    for s in d.removed:
        print(f"- {_line(s)}", file=out)
    for _sa, sb, changes in d.changed:
        what = "; ".join(f"{k} {_fmt(x)} → {_fmt(y)}" for k, (x, y) in changes.items())
        f = sb.finding
        print(f"~ {f.category.value} {f.field} (flow {f.flow_id}): {what}", file=out)


def print_jsonl(d: Diff, out: Any = None) -> None:
    out = out or sys.stdout
    for s in d.added:
        out.write(json.dumps({"change": "added", "b": _brief(s)}, ensure_ascii=False) + "\n")
    for s in d.removed:
        out.write(json.dumps({"change": "removed", "a": _brief(s)}, ensure_ascii=False) + "\n")
    for sa, sb, changes in d.changed:
        row = {
            "change": "changed",
            "a": _brief(sa),
            "b": _brief(sb),
            "changes": {k: [x, y] for k, (x, y) in changes.items()},
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def cmd_diff(args: argparse.Namespace) -> int:
    store = FindingStore(args.db)
    try:
        store.check()
    except StoreError as e:
        print(f"shekara: {e}", file=sys.stderr)
        return EXIT_ERROR
    runs = []
    for run_id in (args.run_a, args.run_b):
        run = store.get_run(run_id)
        if run is None:
            print(f"shekara: the store holds no run {run_id}", file=sys.stderr)
            return EXIT_ERROR
        runs.append(run)
    d = diff_runs(store, args.run_a, args.run_b)
    if args.format == "jsonl":
        print_jsonl(d)
    else:
        print_text(d, *runs)
    return EXIT_OK


def register(sub: Any, default_db_url: Callable[[], str]) -> None:
    p = sub.add_parser(
        "diff",
        help="findings added, removed and changed between two runs (e.g. another ruleset)",
    )
    p.add_argument("run_a", type=int, metavar="RUN_A")
    p.add_argument("run_b", type=int, metavar="RUN_B")
    p.add_argument("--db", default=default_db_url(), help="SQLAlchemy URL of the store")
    p.add_argument("--format", choices=("text", "jsonl"), default="text")
    p.set_defaults(func=cmd_diff)
