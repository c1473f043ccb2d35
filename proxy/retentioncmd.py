"""``shekara retention``: delete raw evidence older than the retention period."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from shekara.evidence.retention import prune_raw_evidence
from shekara.evidence.store import FindingStore


def cmd_retention(args: argparse.Namespace) -> int:
    store = FindingStore(args.db)
    pruned = prune_raw_evidence(store, args.days)
    for p in pruned:
        state = "deleted" if p.existed else "already gone"
        print(f"run {p.run_id}: raw evidence {state}: {p.path}")
    print(f"{len(pruned)} raw-evidence file(s) past {args.days:g} days", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    r = sub.add_parser(
        "retention",
        help="delete raw evidence (saved flows) older than N days; findings stay verifiable",
    )
    r.add_argument("--days", type=float, required=True, help="retention period in days")
    r.add_argument("--db", default=default_db(), help="SQLAlchemy URL of the store")
    r.set_defaults(func=cmd_retention)
