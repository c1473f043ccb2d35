"""``shekara apikey create|revoke|list``: keys of the officials' API, kept as salted hashes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from shekara.api import apikeys
from shekara.evidence.store import FindingStore, StoreError


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds") if epoch else "-"


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


def cmd_apikey(args: argparse.Namespace) -> int:
    try:
        store = FindingStore(args.db)
    except (SQLAlchemyError, ValueError) as exc:
        print(f"shekara: apikey: {_reason(exc)}", file=sys.stderr)
        return 1
    try:
        # Keys are made before the API first runs: bring the store to this version.
        store.create_schema()
        if args.action == "create":
            record, key = apikeys.create_key(store.engine, args.name, args.scope)
            print(key)
            print(
                f"created {record.scope} key {record.key_id} ({record.name}); the key is shown "
                "only now: only its salted hash is stored",
                file=sys.stderr,
            )
            return 0
        if args.action == "revoke":
            revoked = apikeys.revoke_key(store.engine, args.key_id)
            if revoked is None:
                print(f"shekara: apikey: no active key {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked {revoked.scope} key {revoked.key_id} ({revoked.name})", file=sys.stderr)
            return 0
        keys = apikeys.list_keys(store.engine)
        if args.json:
            for k in keys:
                doc = {
                    "key_id": k.key_id,
                    "name": k.name,
                    "scope": k.scope,
                    "created_at": k.created_at,
                    "revoked_at": k.revoked_at,
                }
                print(json.dumps(doc, ensure_ascii=False))
            return 0
        print(f"{'KEY ID':16}  {'SCOPE':8}  {'CREATED':25}  {'REVOKED':25}  NAME")
        for k in keys:
            print(
                f"{k.key_id:16}  {k.scope:8}  {_when(k.created_at):25}  "
                f"{_when(k.revoked_at):25}  {k.name}"
            )
        return 0
    except ValueError as exc:
        print(f"shekara: apikey: {exc}", file=sys.stderr)
        return 2
    except (StoreError, SQLAlchemyError) as exc:
        print(f"shekara: apikey: {_reason(exc)}", file=sys.stderr)
        return 1
    finally:
        store.dispose()


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "apikey",
        help="create, revoke or list keys of the officials' API",
        description="Keys authenticate callers of the API (header 'Authorization: Bearer KEY' "
        "or 'X-API-Key: KEY'). Scopes: official (reads everything), engineer (reads, and "
        "manages the sessions it claims: vehicle, firmware, scenario, markers), admin (all).",
    )
    actions = p.add_subparsers(dest="action", required=True)

    def db(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", default=default_db(), help="SQLAlchemy URL of the store")

    c = actions.add_parser("create", help="make a key and print it (once)")
    c.add_argument("--scope", required=True, choices=apikeys.SCOPES)
    c.add_argument("--name", required=True, help="who or what holds the key")
    db(c)
    r = actions.add_parser("revoke", help="revoke a key by its key id")
    r.add_argument("key_id", help="the key id shown by 'list' (or the whole key)")
    db(r)
    ls = actions.add_parser("list", help="list keys (never their secrets)")
    ls.add_argument("--json", action="store_true", help="one JSON object a line")
    db(ls)
    p.set_defaults(func=cmd_apikey)
