"""``shekara db upgrade|current``: bring a store's schema to this version's revision, or show it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from shekara.evidence import migrations
from shekara.evidence.store import FindingStore, StoreError


def _reason(exc: Exception) -> str:
    # SQLAlchemy appends the SQL and a docs link; the first line is the cause.
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


def cmd_db(args: argparse.Namespace) -> int:
    name = args.db
    try:
        store = FindingStore(args.db)
    except (SQLAlchemyError, ValueError) as exc:
        print(f"shekara: db {args.action}: {_reason(exc)}", file=sys.stderr)
        return 1
    name = store.url.render_as_string(hide_password=True)
    try:
        before = store.schema_revision()
        if args.action == "current":
            print(before or "none")
            head = migrations.head()
            state = "up to date" if before == head else f"this version's is {head}"
            print(f"{name}: revision {before or 'none (empty)'}, {state}", file=sys.stderr)
            return 0
        after = store.create_schema()
    except (StoreError, SQLAlchemyError) as exc:
        print(f"shekara: db {args.action}: {name}: {_reason(exc)}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(after)
    if before == after:
        print(f"{name}: already at revision {after}", file=sys.stderr)
    else:
        print(f"{name}: upgraded from {before or 'empty'} to revision {after}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    d = sub.add_parser(
        "db",
        help="migrate the store's schema (upgrade) or show its revision (current)",
        description="upgrade: create or migrate the store's tables to this version's schema "
        "revision and print it; safe to run again and from several stations at once. "
        "current: print the revision the store is at ('none' if never migrated).",
    )
    d.add_argument("action", choices=("upgrade", "current"))
    d.add_argument(
        "--db",
        default=default_db(),
        help="SQLAlchemy URL of the store (postgresql://user@host/db or sqlite:///path)",
    )
    d.set_defaults(func=cmd_db)
