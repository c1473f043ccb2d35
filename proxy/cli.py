"""The ``shekara`` command: replay, proxy, api and demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shekara import __version__
from shekara.audit.model import Finding, Note
from shekara.proxy import apikeycmd, dbcmd, geocmd, reportcmd, retentioncmd, verifycmd
from shekara.proxy.keys import shekara_home

if TYPE_CHECKING:
    from shekara.evidence.store import FindingStore

log = logging.getLogger("shekara")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DAMAGED = 2
# Destinations listed after a replay as needing a closer look, at most.
MAX_DOUBTFUL = 50


def default_db_url() -> str:
    return f"sqlite:///{shekara_home() / 'findings.db'}"


def env_geoip() -> list[str]:
    """Operator databases named by the SHEKARA_GEOIP setting."""
    return [p for p in os.environ.get("SHEKARA_GEOIP", "").split(os.pathsep) if p]


def repo_captures() -> Path:
    return Path(__file__).resolve().parents[1] / "captures"


def finding_json(f: Finding) -> dict[str, object]:
    d = f.destination
    return {
        "flow_id": f.flow_id,
        "category": f.category.value,
        "field": f.field,
        "preview": f.preview,
        "value_hash": f.value_hash,
        "host": d.host,
        "ip": d.ip,
        "port": d.port,
        "country": d.country,
        "geo_source": d.geo_source,
        "geo_build": d.geo_build,
        "geo_confidence": d.confidence.value,
        "cdn": d.cdn,
        "verdict": f.verdict.value,
        "violation": f.violation,
        "rule": f.rule_id,
        "severity": f.severity,
        "confidence": f.confidence.value,
        "observed_at": f.observed_at,
    }


def _jsonl_sink(findings: Sequence[Finding], notes: Sequence[Note]) -> None:
    out = sys.stdout
    for f in findings:
        out.write(json.dumps(finding_json(f), ensure_ascii=False) + "\n")


def print_table(rows: Sequence[tuple[str | None, str | None, str, int]], file=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    """Violations grouped by destination country, host and category."""
    header = ("COUNTRY", "HOST", "CATEGORY", "COUNT")
    cells = [header] + [(c or "??", h or "?", cat, str(n)) for c, h, cat, n in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(4)]
    for i, r in enumerate(cells):
        print(
            "  ".join(v.ljust(widths[j]) if j < 3 else v.rjust(widths[j]) for j, v in enumerate(r)),
            file=file,
        )
        if i == 0:
            print("  ".join("-" * w for w in widths), file=file)
    if not rows:
        print("(no cross-border transfers observed)", file=file)


def print_doubtful_destinations(store: FindingStore, run_id: int, file=sys.stderr) -> None:  # type: ignore[no-untyped-def]
    """The run's destinations whose country is disputed, a CDN edge's, or of low confidence.

    Shown apart, so a reader never takes such a verdict for a firm one.
    """
    doubtful = [
        d
        for d in store.query_destinations(run_id=run_id, limit=10_000)
        if not d.private and (d.disputed or d.cdn or str(d.confidence) == "low")
    ]
    if not doubtful:
        return
    print("geolocation to check (shekara geo explain HOST|IP):", file=file)
    for d in doubtful[:MAX_DOUBTFUL]:
        why = "disputed" if d.disputed else f"CDN edge ({d.cdn})" if d.cdn else "low confidence"
        where = d.country or "??"
        print(f"  {d.host or '-'} {d.ip or '-'}: {where}, {why}", file=file)


def _check_proto(args: argparse.Namespace) -> None:
    """Refuse bad .proto files before a run is opened for them."""
    if args.proto:
        from shekara.audit.decoders.protobuf import load_schemas

        load_schemas(args.proto)


def cmd_replay(args: argparse.Namespace) -> int:
    from shekara.proxy import pipeline, replay

    _check_proto(args)
    status = EXIT_OK
    sinks = [_jsonl_sink] if args.format == "jsonl" else []
    for capture in args.captures:
        path = Path(capture)
        if not path.is_file():
            print(f"shekara: {path}: no such capture file", file=sys.stderr)
            status = EXIT_ERROR
            continue
        ctx = pipeline.build(
            args.db,
            "replay",
            ruleset_path=args.ruleset,
            geoip=args.geoip,
            capture=str(path),
            capture_sha256=replay.sha256_file(path),
            sinks=sinks,
        )
        result = replay.replay(
            path, ctx.addons, {"shekara_proto": args.proto} if args.proto else None
        )
        ctx.close(result.flows, "failed" if result.error else "completed", result.error)
        summary = ctx.store.summary(ctx.run_id)
        total = sum(n for *_, n in summary)
        print(
            f"{path}: {result.flows} flows, run {ctx.run_id}, "
            f"{total} cross-border transfers observed",
            file=sys.stderr,
        )
        if args.format == "table":
            print_table(summary)
        print_doubtful_destinations(ctx.store, ctx.run_id)
        if result.error:
            print(f"shekara: {result.error}; findings before it were kept", file=sys.stderr)
            status = EXIT_DAMAGED
    return status


def cmd_proxy(args: argparse.Namespace) -> int:
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    from shekara.proxy import pipeline

    _check_proto(args)
    home = shekara_home()
    ctx = pipeline.build(
        args.db,
        "proxy",
        ruleset_path=args.ruleset,
        geoip=args.geoip,
        spool_dir=Path(args.spool) if args.spool else home / "spool",
        spool_max_bytes=int(args.spool_max_mb * 1024 * 1024),
        status_path=Path(args.status_file) if args.status_file else home / "status.json",
    )
    confdir = shekara_home() / "mitmproxy"
    confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    raw_file = ctx.keep_flows(home / "evidence") if args.keep_flows else None

    async def run() -> None:
        opts = options.Options(
            listen_host=args.listen_host,
            listen_port=args.listen_port,
            mode=["regular"],
            confdir=str(confdir),
        )
        m = DumpMaster(opts, with_termlog=True, with_dumper=False)
        if raw_file is not None:
            # mitmproxy's own saver writes the flows; the file was created 0600.
            m.options.update(save_stream_file=str(raw_file))
        m.addons.add(*ctx.addons)
        if args.proto:
            m.options.update(shekara_proto=args.proto)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, m.shutdown)
        print(
            f"shekara proxy listening on {args.listen_host}:{args.listen_port}, run {ctx.run_id}",
            file=sys.stderr,
            flush=True,
        )
        await m.run()

    try:
        asyncio.run(run())
    finally:
        ctx.close(0, "completed")
    return EXIT_OK


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from shekara.api.app import create_app
    from shekara.api.settings import Settings

    app = create_app(Settings(db_url=args.db))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Replays the bundled captures into a fresh store, prints the table, serves the API."""
    captures = sorted(Path(args.captures).glob("*.mitm"))
    if not captures:
        print(f"shekara: no .mitm captures in {args.captures}", file=sys.stderr)
        return EXIT_ERROR
    db_path = Path(args.db_file)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{db_path}"
    ns = argparse.Namespace(
        captures=[str(c) for c in captures],
        db=url,
        ruleset=None,
        geoip=[],
        proto=[],
        format="table",
    )
    status = cmd_replay(ns)
    if args.no_serve or status == EXIT_ERROR:
        return status
    # The API refuses unauthenticated calls; the demo's fresh store gets one
    # official (read-only) key, shown here once like any key.
    from shekara.api.apikeys import create_key
    from shekara.evidence.store import FindingStore

    store = FindingStore(url)
    try:
        _, key = create_key(store.engine, "demo official", "official")
    finally:
        store.dispose()
    base = f"http://{args.host}:{args.port}"
    print(f"\nAPI key (official, read-only, this demo store only): {key}")
    print(f"  curl -H 'Authorization: Bearer {key}' '{base}/violations?country=CN'")
    print(f"Dashboard: {base}/dashboard/#key={key}")
    print(f"API on {base}/violations (Ctrl-C to stop)", flush=True)
    return cmd_api(argparse.Namespace(db=url, host=args.host, port=args.port))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="shekara",
        description="Audit which personal data a connected vehicle sends out of Kazakhstan.",
    )
    p.add_argument("--version", action="version", version=f"shekara {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", default=default_db_url(), help="SQLAlchemy URL of the store")
        sp.add_argument("--ruleset", default=None, help="ruleset folder (default: bundled kz)")
        sp.add_argument(
            "--geoip",
            action="append",
            default=env_geoip(),
            metavar="MMDB",
            help="extra City/Country/ASN .mmdb file, consulted before the embedded one "
            "(repeatable; default from SHEKARA_GEOIP, paths separated by ':')",
        )
        sp.add_argument(
            "--proto",
            action="append",
            default=[],
            metavar="FILE.proto",
            help="protobuf schema (file or folder) for decoding protobuf bodies with field names",
        )

    r = sub.add_parser("replay", help="analyse saved mitmproxy captures")
    r.add_argument("captures", nargs="+", metavar="CAPTURE.mitm")
    common(r)
    r.add_argument("--format", choices=("table", "jsonl"), default="table")
    r.set_defaults(func=cmd_replay)

    x = sub.add_parser("proxy", help="run the auditing proxy (regular mode)")
    x.add_argument("--listen-host", default="127.0.0.1")
    x.add_argument("--listen-port", type=int, default=8080)
    x.add_argument(
        "--keep-flows",
        action="store_true",
        help="keep the session's full flows as raw evidence ($SHEKARA_HOME/evidence, mode "
        "0600); they hold personal data in the clear: see 'shekara retention'",
    )
    common(x)
    x.add_argument(
        "--spool",
        default=None,
        metavar="DIR",
        help="folder of the on-disk queue that acknowledges findings before the store has "
        "them (default: $SHEKARA_HOME/spool)",
    )
    x.add_argument(
        "--spool-max-mb",
        type=float,
        default=256.0,
        help="size bound of the spool; beyond it findings are NOT acknowledged (logged)",
    )
    x.add_argument(
        "--status-file",
        default=None,
        help="where the proxy reports store and spool state for /health "
        "(default: $SHEKARA_HOME/status.json)",
    )
    x.set_defaults(func=cmd_proxy)

    a = sub.add_parser("api", help="serve the officials' API")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, default=8000)
    a.add_argument("--db", default=default_db_url())
    a.set_defaults(func=cmd_api)

    d = sub.add_parser("demo", help="replay the bundled captures and serve the API")
    d.add_argument("--captures", default=str(repo_captures()))
    d.add_argument("--db-file", default=str(Path(".shekara") / "demo.db"))
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--no-serve", action="store_true", help="stop after printing the table")
    d.set_defaults(func=cmd_demo)

    # Further subcommands register themselves here, one module each.
    retentioncmd.register(sub, default_db_url)
    dbcmd.register(sub, default_db_url)
    verifycmd.register(sub, default_db_url)
    reportcmd.register(sub, default_db_url)
    apikeycmd.register(sub, default_db_url)
    geocmd.register(sub, default_db_url)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as e:
        from mitmproxy.exceptions import OptionsError

        from shekara.rulesets.loader import RulesetError

        if isinstance(e, RulesetError):
            print(f"shekara: invalid ruleset:\n{e}", file=sys.stderr)
            return EXIT_ERROR
        from shekara.audit.decoders.protobuf import SchemaError

        if isinstance(e, OptionsError | SchemaError):
            print(f"shekara: {e}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
