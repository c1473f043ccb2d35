"""``shekara report``: a session's report for officials, as HTML or PDF, in ru, kk or en."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from shekara.evidence.store import FindingStore, StoreError, UnknownRunError

EXIT_OK = 0
EXIT_FAILED = 1


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` whole: a reader never finds half a report."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_report(args: argparse.Namespace) -> int:
    from shekara.reports import render_session_report

    store = FindingStore(args.db)
    try:
        store.check()
        data = render_session_report(
            store, args.session, args.lang, args.format, max_evidence=args.max_evidence
        )
    except UnknownRunError:
        print(f"shekara: the store holds no run {args.session}", file=sys.stderr)
        return EXIT_FAILED
    except StoreError as exc:
        print(f"shekara: cannot report from {store!r}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.dispose()
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            _write(Path(args.output), data)
        except OSError as exc:
            print(f"shekara: cannot write {args.output}: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(
            f"run {args.session}: {args.format} report ({args.lang}) written to {args.output}",
            file=sys.stderr,
        )
    return EXIT_OK


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    """Add ``report`` to the ``shekara`` subcommands."""
    from shekara.reports import FORMATS, LANGUAGES
    from shekara.reports.facts import DEFAULT_MAX_EVIDENCE

    r = sub.add_parser(
        "report",
        help="write a session's report (cross-border transfers, caveats, evidence hashes)",
        description="Write the report of one session (run) for officials: the vehicle and "
        "session, cross-border transfers by category and country with the legal articles, "
        "remote-control commands, decryption coverage, what could not be seen, and the "
        "evidence hashes with the command that verifies them offline.",
    )
    r.add_argument("session", type=int, metavar="SESSION_ID", help="the run id")
    r.add_argument("--lang", choices=LANGUAGES, default="ru", help="language (default: ru)")
    r.add_argument("--format", choices=FORMATS, default="pdf", help="default: pdf")
    r.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write it ('-': stdout)"
    )
    r.add_argument("--db", default=default_db(), help="SQLAlchemy URL of the store")
    r.add_argument(
        "--max-evidence",
        type=int,
        default=DEFAULT_MAX_EVIDENCE,
        metavar="N",
        help=f"list at most N findings one by one, count the rest (default {DEFAULT_MAX_EVIDENCE})",
    )
    r.set_defaults(func=cmd_report)
