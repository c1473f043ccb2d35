"""``shekara verify``, ``shekara export-chain`` and ``shekara station-key``: tamper evidence.

``verify`` recomputes every run's hash chain (or one run's) and checks the
signed closing statement, one line a run; exit 0 when all hold, 1 otherwise.
``verify --statement FILE`` checks a chain exported by ``export-chain``
offline, without a database. ``station-key`` prints this station's public
key, which a recipient passes to ``--trusted-key``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from shekara.evidence import chain
from shekara.evidence.store import FindingStore, StoreError, UnknownRunError
from shekara.proxy.keys import shekara_home, station_key

EXIT_OK = 0
EXIT_FAILED = 1


def _trusted(values: list[str]) -> list[str]:
    """Base64 public keys given directly, or as files holding one key a line."""
    keys: list[str] = []
    for value in values:
        path = Path(value)
        if path.is_file():
            keys += [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
        else:
            keys.append(value)
    return keys


def cmd_verify(args: argparse.Namespace) -> int:
    from shekara.evidence import verify

    trusted = _trusted(args.trusted_key)
    if args.statement:
        try:
            reports = [
                verify.verify_export(
                    Path(args.statement), trusted_keys=trusted, require_signed=args.require_signed
                )
            ]
        except (OSError, verify.ExportError) as exc:
            print(f"shekara: {exc}", file=sys.stderr)
            return EXIT_FAILED
    else:
        store = FindingStore(args.db)
        try:
            store.check()
            reports = verify.verify_store(
                store, args.session, trusted_keys=trusted, require_signed=args.require_signed
            )
        except UnknownRunError:
            print(f"shekara: the store holds no run {args.session}", file=sys.stderr)
            return EXIT_FAILED
        except StoreError as exc:
            print(f"shekara: cannot verify {store!r}: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            store.dispose()
    for report in reports:
        print(report.describe())
    failed = sum(not r.ok for r in reports)
    if not reports:
        print("no runs in the store", file=sys.stderr)
    else:
        print(f"{len(reports)} run(s) verified, {failed} failed", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_export_chain(args: argparse.Namespace) -> int:
    from shekara.evidence import verify

    store = FindingStore(args.db)
    try:
        store.check()
        if args.output == "-":
            n = verify.export_run(store, args.session, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                n = verify.export_run(store, args.session, out)
    except UnknownRunError:
        print(f"shekara: the store holds no run {args.session}", file=sys.stderr)
        return EXIT_FAILED
    except StoreError as exc:
        print(f"shekara: cannot export from {store!r}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.dispose()
    print(f"run {args.session}: {n} findings exported", file=sys.stderr)
    return EXIT_OK


def cmd_station_key(args: argparse.Namespace) -> int:
    public = chain.public_key_text(station_key(Path(args.home) if args.home else None))
    print(public)
    print(f"fingerprint {chain.key_fingerprint(public)}", file=sys.stderr)
    return EXIT_OK


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    """Add ``verify``, ``export-chain`` and ``station-key`` to the ``shekara`` subcommands."""
    v = sub.add_parser(
        "verify",
        help="recompute the findings' hash chains and check the signed closing statements",
    )
    v.add_argument("--db", default=default_db(), help="SQLAlchemy URL of the store")
    v.add_argument("--session", type=int, metavar="ID", help="only this run (default: all)")
    v.add_argument(
        "--statement",
        metavar="FILE",
        help="verify a chain exported with `shekara export-chain` offline (no database)",
    )
    v.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a station public key (base64, as `shekara station-key` prints it) or a file of "
        "them; when given, runs signed by any other key fail (repeatable)",
    )
    v.add_argument(
        "--require-signed",
        action="store_true",
        help="fail open runs too (still running, or ended without closing)",
    )
    v.set_defaults(func=cmd_verify)

    e = sub.add_parser(
        "export-chain",
        help="write a run's signed statement and chained findings for offline verification",
    )
    e.add_argument("--db", default=default_db(), help="SQLAlchemy URL of the store")
    e.add_argument("--session", type=int, required=True, metavar="ID", help="the run")
    e.add_argument("-o", "--output", default="-", metavar="FILE", help="default: stdout")
    e.set_defaults(func=cmd_export_chain)

    k = sub.add_parser("station-key", help="print this station's public signing key")
    k.add_argument("--home", default=None, help=f"default: {shekara_home()}")
    k.set_defaults(func=cmd_station_key)
