"""``shekara geo explain HOST|IP``: every piece of geolocation evidence, and what it adds up to.

Prints each source's answer, the names and CNAME chain, PTR names, ASN and
organisation, a measured round trip against light in fibre (``--rtt``), CDN
or anycast flags, the consensus, and the verdict the ruleset gives. With
``--json`` it prints the same as one JSON object a destination.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from shekara.audit.model import Destination, destination_to_dict
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.geo.dnsquery import DnsLookup
from shekara.geo.locate import Locator
from shekara.geo.mmdb import GeoError
from shekara.geo.rtt import TcpProbe, parse_station
from shekara.rulesets.loader import load_ruleset

EXIT_OK = 0
EXIT_ERROR = 2


def _line(e: dict[str, Any]) -> str:
    kind = e.get("kind", "?")
    if kind == "mmdb":
        if e.get("miss"):
            return f"{e['source']} (build {e['build']}): no record"
        where = e["country"] + (f", {e['city']}" if e.get("city") else "")
        extra = " [overruled by an override]" if e.get("overruled") else ""
        return f"{e['source']} (build {e['build']}): {where}, network {e.get('network')}{extra}"
    if kind == "asn":
        return f"AS{e['asn']} {e.get('org') or ''} ({e['source']}, network {e.get('network')})"
    if kind == "override":
        return (
            f"{e['source']}: {e['country']} by {e['matched_by']}; verified by {e['verified_by']} "
            f"on {e['verified_on']} ({e['how']})" + ("; EXPIRED" if e.get("expired") else "")
        )
    if kind == "name":
        chain = " -> ".join(e["chain"]) if e.get("chain") else ""
        return f"{e['name']} ({e['how']})" + (f", CNAME chain {chain}" if chain else "")
    if kind == "ptr":
        return ", ".join(e["names"])
    if kind == "tls":
        return f"certificate subject O={e.get('subject_org')}, issuer O={e.get('issuer_org')}"
    if kind == "rtt":
        if e.get("outcome") == "no claim":
            return f"{e['rtt_ms']} ms (no country claimed to test)"
        flag = "CONTRADICTION" if e.get("contradicts") else e["outcome"]
        return (
            f"{e['rtt_ms']} ms: at most {e['max_km']} km away ({e['rule']}); "
            f"{e['claimed_country']} is at least {e['claim_nearest_km']} km away "
            f"({e['claim_basis']}): {flag}"
        )
    if kind == "cdn":
        return f"{e['provider']} ({e['matched_by']}): {e['note']}"
    if kind == "consensus":
        return f"{e['outcome']}; candidates {', '.join(e['candidates']) or '-'}; rule: {e['rule']}"
    return json.dumps(e, ensure_ascii=False)


def _print(d: Destination, verdict: str, rule_id: str, violation: bool) -> None:
    print(f"destination {d.host or '-'} {d.ip or '(no address)'} port {d.port}")
    for e in d.evidence:
        print(f"  {e.get('kind', '?'):<10} {_line(e)}")
    low = " (LOW: do not rely on it alone)" if str(d.confidence) == "low" else ""
    print(f"  country    {d.country or '-'}" + (" (DISPUTED)" if d.disputed else ""))
    print(f"  confidence {d.confidence}{low}")
    print(f"  verdict    {verdict} ({rule_id})" + (" - violation" if violation else ""))


def cmd_explain(args: argparse.Namespace) -> int:
    from shekara.audit.model import Category

    try:
        station = parse_station(args.station)
        ruleset = load_ruleset(args.ruleset)
        locator = Locator.from_paths(
            args.geoip,
            embedded=not args.no_embedded,
            overrides=ruleset.overrides,
            station=station,
            probe=TcpProbe(attempts=args.attempts, timeout=args.timeout),
        )
    except (GeoError, ValueError) as e:
        print(f"shekara: {e}", file=sys.stderr)
        return EXIT_ERROR
    # Nothing is hashed here; the judge only needs a key to exist.
    judge = Judge(ruleset, Redactor(os.urandom(32)))
    dns = DnsLookup(args.dns_server, timeout=args.timeout) if args.dns or args.dns_server else None
    try:
        dests = locator.explain(args.target, port=args.port, dns=dns, rtt=args.rtt)
    finally:
        locator.close()
    for d in dests:
        verdict = judge.verdict(d)
        rule = judge.rule(Category.LOCATION, verdict)
        violation = judge.is_violation(verdict, d)
        if args.json:
            out = destination_to_dict(d)
            out.update(verdict=str(verdict), rule=rule.id, violation=violation)
            print(json.dumps(out, ensure_ascii=False))
        else:
            _print(d, str(verdict), rule.id, violation)
    return EXIT_OK


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    """Add ``geo explain`` to the ``shekara`` subcommands."""
    from shekara.proxy.cli import env_geoip

    g = sub.add_parser("geo", help="geolocation evidence")
    gsub = g.add_subparsers(dest="geo_command", required=True)
    e = gsub.add_parser(
        "explain", help="print every piece of evidence of where a server is, and the verdict"
    )
    e.add_argument("target", metavar="HOST|IP")
    e.add_argument(
        "--geoip",
        action="append",
        default=env_geoip(),
        metavar="FILE.mmdb",
        help="an operator database (repeatable; default from SHEKARA_GEOIP)",
    )
    e.add_argument(
        "--no-embedded",
        action="store_true",
        help="leave the embedded 2019 database out (when the operator's are current)",
    )
    e.add_argument("--ruleset", default=None, help="ruleset folder (its overrides are used)")
    e.add_argument("--port", type=int, default=443, help="the service port (default 443)")
    e.add_argument(
        "--rtt",
        action="store_true",
        help="measure the TCP handshake time (active: sends packets to the server)",
    )
    e.add_argument("--dns", action="store_true", help="resolve a name with the system resolver now")
    e.add_argument("--dns-server", metavar="IP[:PORT]", help="resolve with this DNS server")
    e.add_argument(
        "--station",
        default=os.environ.get("SHEKARA_STATION"),
        metavar="LAT,LON",
        help="the audit station's location (default SHEKARA_STATION, else Almaty)",
    )
    e.add_argument(
        "--attempts", type=int, default=3, help="handshakes to time (the minimum counts)"
    )
    e.add_argument("--timeout", type=float, default=2.0, help="seconds per DNS query or handshake")
    e.add_argument("--json", action="store_true", help="one JSON object a destination")
    e.set_defaults(func=cmd_explain)
