"""``shekara session start|stop|mark``: a test session of one vehicle and scenario."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from shekara.audit.drivetrack import TrackError, load_track
from shekara.evidence.store import FindingStore
from shekara.proxy import session


def cmd_session(args: argparse.Namespace) -> int:
    try:
        if args.action == "start":
            if not args.vin:
                print("shekara: session start needs --vin", file=sys.stderr)
                return 1
            known = {k: getattr(args, k) for k in session.KNOWN_FIELDS if k != "vin"}
            track = load_track(Path(args.track)) if args.track else None
            s = session.start(
                args.db,
                vin=args.vin,
                make=args.make,
                model=args.model,
                firmware=args.firmware,
                scenario=args.scenario,
                known=known,
                track=track,
            )
            print(s.run_id)
            print(
                f"session {s.run_id} started; 'shekara proxy --db {args.db}' records into it",
                file=sys.stderr,
            )
        elif args.action == "stop":
            s = session.stop()
            print(s.run_id)
            print(f"session {s.run_id} closed and signed", file=sys.stderr)
            print_coverage(s.db, s.run_id)
        else:
            if not args.label:
                print("shekara: session mark needs a label", file=sys.stderr)
                return 1
            run_id, at = session.mark(" ".join(args.label))
            stamp = time.strftime("%H:%M:%S", time.gmtime(at))
            print(f"session {run_id}: marked at {stamp} UTC", file=sys.stderr)
    except (session.SessionError, TrackError, OSError) as e:
        print(f"shekara: {e}", file=sys.stderr)
        return 1
    return 0


def print_coverage(db: str, run_id: int) -> None:
    """The session's decryption coverage, so the engineer sees what stayed unread."""
    store = FindingStore(db)
    try:
        whole, per_host = store.coverage(run_id)
    finally:
        store.dispose()
    if whole.share_read is None:
        print("no traffic was seen: this is not evidence of no transfer", file=sys.stderr)
        return
    print(
        f"content read for {whole.share_read:.0%} of {whole.bytes_total} bytes "
        f"({whole.connections} connections, {whole.undetermined_connections} of "
        "undetermined content)",
        file=sys.stderr,
    )
    for c in per_host:
        if c.share_read is not None and c.share_read < 1:
            print(
                f"  {c.host or '?'}: {c.bytes_total - c.bytes_read} bytes of undetermined "
                f"content ({c.share_read:.0%} read)",
                file=sys.stderr,
            )


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "session",
        help="start, mark or stop a test session (vehicle, firmware, scenario)",
        description="start: open a run for one vehicle and scenario, which 'shekara proxy' "
        "then records into; the identifiers given are looked for in every encoding and "
        "kept in plain only in a private file until 'stop'. mark: timestamp what the "
        "engineer does now. stop: close and sign the run.",
    )
    p.add_argument("action", choices=("start", "stop", "mark"))
    p.add_argument("label", nargs="*", help="mark: what the engineer is doing now")
    p.add_argument("--db", default=default_db(), help="SQLAlchemy URL of the store")
    p.add_argument("--vin")
    p.add_argument("--make")
    p.add_argument("--model")
    p.add_argument("--firmware")
    p.add_argument("--scenario")
    p.add_argument("--imei")
    p.add_argument("--iccid")
    p.add_argument("--phone")
    p.add_argument("--iin")
    p.add_argument("--owner-name", dest="owner_name")
    p.add_argument(
        "--track",
        metavar="GPX|CSV",
        help="the drive's track (GPX, or CSV with lat and lon columns): coordinates near it "
        "are recognised in any scale",
    )
    p.set_defaults(func=cmd_session)
