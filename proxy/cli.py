"""The ``shekara`` command: replay, proxy, api and demo."""

from __future__ import annotations

import argparse
import asyncio
import gc
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
from shekara.proxy import (
    apikeycmd,
    cacmd,
    dbcmd,
    diffcmd,
    geocmd,
    replaycmd,
    reportcmd,
    retentioncmd,
    sessioncmd,
    verifycmd,
    wificmd,
)
from shekara.proxy.keys import shekara_home

if TYPE_CHECKING:
    from shekara.api.settings import Settings
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
    from shekara.proxy import replaycmd

    _check_proto(args)
    sinks = [_jsonl_sink] if args.format == "jsonl" else []
    return replaycmd.run(args, sinks, print_table, print_doubtful_destinations)


def cmd_proxy(args: argparse.Namespace) -> int:
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    from shekara.proxy import pipeline, session
    from shekara.proxy.modes import mode_specs

    _check_proto(args)
    modes = mode_specs(args.mode or ["regular"])
    home = shekara_home()
    active = session.active(home)
    if active is not None and active.db != args.db:
        print(
            f"shekara: session {active.run_id} records into {active.db}; run the proxy with "
            "that --db, or stop the session first",
            file=sys.stderr,
        )
        return EXIT_ERROR
    ctx = pipeline.build(
        args.db,
        "proxy",
        ruleset_path=args.ruleset,
        geoip=args.geoip,
        spool_dir=Path(args.spool) if args.spool else home / "spool",
        spool_max_bytes=int(args.spool_max_mb * 1024 * 1024),
        status_path=Path(args.status_file) if args.status_file else home / "status.json",
        live=True,
        run_id=active.run_id if active is not None else None,
        known=active.known_values() if active is not None else None,
        track=active.drive_track() if active is not None else None,
        dhcp_leases=Path(args.dhcp_leases) if args.dhcp_leases else None,
    )
    confdir = shekara_home() / "mitmproxy"
    confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    raw_file = ctx.keep_flows(home / "evidence") if args.keep_flows else None
    capture = None
    if args.capture:
        from shekara.proxy.capture import CaptureError, SessionCapture

        capture = SessionCapture(home / "evidence", ctx.run_id, args.capture_interface)
        try:
            capture.start()
        except CaptureError as e:
            ctx.close(0, "failed", str(e), finish=active is None)
            print(f"shekara: {e}", file=sys.stderr)
            return EXIT_ERROR

    async def run() -> None:
        opts = options.Options(
            listen_host=args.listen_host,
            mode=modes,
            confdir=str(confdir),
        )
        if args.listen_port is not None:
            opts.update(listen_port=args.listen_port)
        m = DumpMaster(opts, with_termlog=True, with_dumper=False)
        if raw_file is not None:
            # mitmproxy's own saver writes the flows; the file was created 0600.
            m.options.update(save_stream_file=str(raw_file))
        m.addons.add(*ctx.addons)
        if args.proto:
            m.options.update(shekara_proto=args.proto)
        m.options.update(shekara_flow_records=args.flow_records)
        m.options.update(shekara_passthrough=args.passthrough, shekara_intercept=args.intercept)
        if args.upstream_ca:
            m.options.update(ssl_verify_upstream_trusted_ca=args.upstream_ca)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, m.shutdown)
        _settle_heap()
        where = f"{args.listen_host}:{args.listen_port}" if args.listen_port else args.listen_host
        print(
            f"shekara proxy ({', '.join(modes)}) listening on {where}, run {ctx.run_id}",
            file=sys.stderr,
            flush=True,
        )
        await m.run()

    try:
        asyncio.run(run())
    finally:
        if capture is not None:
            written = capture.stop()
            if written is not None:
                print(f"packet capture (TLS keys embedded): {written}", file=sys.stderr)
        # A session's run stays open across proxy restarts: 'shekara session stop' closes it.
        ctx.close(0, "completed", finish=active is None)
    return EXIT_OK


def _settle_heap() -> None:
    """Take what start-up built (rulesets, detectors, geo readers) out of the collector's sight.

    Those hundreds of thousands of objects live as long as the proxy, yet a
    full collection walks them all: about 100 ms with every connection's
    traffic held, several times a minute under load. Frozen, a full
    collection walks only what the traffic made since.
    """
    gc.collect()
    gc.freeze()


def api_settings(args: argparse.Namespace) -> Settings:
    """The API's settings: the environment's (SHEKARA_*), with what the command line says."""
    from shekara.api.settings import Settings

    given: dict[str, object] = {"db_url": args.db}
    if getattr(args, "public_url", None):
        given["public_url"] = args.public_url
    return Settings(**given)  # type: ignore[arg-type]


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from shekara.api.app import create_app

    try:
        settings = api_settings(args)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()
        )
        print(f"shekara: bad API setting: {problems}", file=sys.stderr)
        return EXIT_ERROR
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
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
        sp.add_argument(
            "--flow-records",
            choices=["evidence", "all"],
            default="evidence",
            help="which flows get a metadata row: those that gave a finding or a note "
            "(default), or all",
        )

    r = sub.add_parser("replay", help="analyse saved captures: mitmproxy flows, pcap/pcapng, HAR")
    r.add_argument("captures", nargs="+", metavar="CAPTURE")
    common(r)
    r.add_argument("--format", choices=("table", "jsonl"), default="table")
    replaycmd.add_arguments(r)
    r.set_defaults(func=cmd_replay)

    x = sub.add_parser("proxy", help="run the auditing proxy")
    x.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="MODE",
        help="transparent (audit Wi-Fi gateway), wireguard, regular, socks5 or dns, with an "
        "optional @PORT (e.g. dns@5353); repeat to run several at once (default: regular)",
    )
    x.add_argument("--listen-host", default="127.0.0.1")
    x.add_argument(
        "--listen-port",
        type=int,
        default=None,
        help="port of every mode given without @PORT (default: the mode's own, 8080 for "
        "regular and transparent)",
    )
    x.add_argument(
        "--passthrough",
        action="append",
        default=[],
        metavar="HOST",
        help="regular expression on a host name or IP whose TLS is never opened (repeatable)",
    )
    x.add_argument(
        "--intercept",
        action="append",
        default=[],
        metavar="HOST",
        help="regular expression on a host name or IP never switched to passthrough after "
        "a TLS failure (repeatable)",
    )
    x.add_argument(
        "--capture",
        action="store_true",
        help="record every packet beside the proxy (tcpdump) into $SHEKARA_HOME/evidence/"
        "run-<id>.pcapng with the TLS keys of decrypted connections embedded (mode 0600; "
        "holds personal data in the clear, like --keep-flows)",
    )
    x.add_argument("--capture-interface", default="any", help="interface tcpdump records")
    x.add_argument(
        "--dhcp-leases",
        default=None,
        metavar="FILE",
        help="dnsmasq lease file of the audit Wi-Fi: connections are attributed to the "
        "device (MAC address, DHCP host name) holding the client address",
    )
    x.add_argument(
        "--upstream-ca",
        default=None,
        metavar="PEM",
        help="CA certificate(s) trusted for the servers the device talks to, besides the "
        "system's (a test bench's own CA)",
    )
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
    a.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the API's address as the device under test reaches it (e.g. "
        "http://10.77.0.1:8000), for the CA download links; default SHEKARA_PUBLIC_URL, "
        "else the address a request came in on",
    )
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
    diffcmd.register(sub, default_db_url)
    sessioncmd.register(sub, default_db_url)
    cacmd.register(sub, default_db_url)
    wificmd.register(sub, default_db_url)
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
