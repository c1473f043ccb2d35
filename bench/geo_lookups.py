"""Destination lookups/s through the Locator, next to raw ``maxminddb`` lookups of the same IPs.

Usage:
    python bench/geo_lookups.py [--lookups 100000] [--distinct 300] [--rounds 3]
                                [--geoip FILE.mmdb ...]

Baseline: ``maxminddb.open_database(...).get(ip)`` on the same database(s)
the Locator reads (by default the embedded GeoLite2-City), for the same IPs
in the same order; ``geoip2``'s ``city()`` is shown for reference. Measured:
``Locator.lookup(ip)`` (every source's answer, the ASN, CDN ranges and the
consensus for the IP: the lookup the targets are about) and
``Locator.locate(...)`` (the whole Destination with its evidence as a dict
per piece, which the flow then carries). Each round runs every side in
turns, with fresh Locators and the garbage collector on, as in production,
so a machine busy with other work slows them alike; each round prints its
own ratios, and a target counts as met only if every round meets it. Two
workloads:

- repeating: ``--lookups`` lookups over ``--distinct`` destinations drawn
  with a Zipf-like skew (a car talks to a few servers many times). Target
  >= 0.8x raw.
- distinct: ``--lookups`` different IPs, each looked up once (no per-IP
  cache can help). Target >= 0.4x raw. The IPs are uniformly random over the
  IPv4 addresses ``ipaddress`` calls global (that includes multicast,
  224.0.0.0/4, about 7% of them, all misses in the City database). About 40%
  of them fall in a City network drawn before: the least locality traffic
  can have, since real streams of distinct IPs (CDN edges, cloud ranges)
  crowd into a few providers' networks.

Then the whole destination stage per flow (``addons.naming`` learning the
device's DNS answers, ``addons.attribution`` building the Destination with
its evidence and storing it on the flow) over real mitmproxy flows whose
destinations repeat, in microseconds per flow, each round with a fresh
Locator; all flows stay alive, as in a proxy that keeps its flows, so the
garbage collector's share (printed) grows with every object a flow keeps.
The script always exits 0 and prints whether the targets were met.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import ipaddress
import random
import time
from collections.abc import Callable, Sequence

import geoip2.database
import geoip2.errors
import maxminddb
from mitmproxy import dns
from mitmproxy.test import tflow

from shekara.addons.attribution import Attribution
from shekara.addons.naming import Naming
from shekara.geo.locate import Locator
from shekara.geo.mmdb import embedded_city_path
from shekara.rulesets.loader import load_ruleset

TARGET_REPEAT = 0.8
TARGET_DISTINCT = 0.4


def _global_ips(n: int, rng: random.Random) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        addr = ipaddress.IPv4Address(rng.getrandbits(32))
        if addr.is_global:
            out.add(str(addr))
    return sorted(out, key=lambda _: rng.random())


def _repeating(n: int, distinct: int, rng: random.Random) -> tuple[list[str], list[str]]:
    ips = _global_ips(distinct, rng)
    hosts = [f"svc{i}.example-oem.cn" for i in range(distinct)]
    weights = [1 / (i + 1) for i in range(distinct)]
    picks = rng.choices(range(distinct), weights=weights, k=n)
    return [ips[i] for i in picks], [hosts[i] for i in picks]


def _compare(
    label: str,
    paths: Sequence[str],
    ips: list[str],
    hosts: Sequence[str | None],
    rounds: int,
    target: float,
    chunk: int = 500,
) -> None:
    """Each side over the same IPs, alternating every ``chunk`` lookups (the machine's
    other load then falls on all sides alike); fresh Locators (empty caches) each round,
    the collector on as in production. One line per round, then the totals."""
    readers = [maxminddb.open_database(p) for p in paths]
    g = geoip2.database.Reader(paths[0])
    overrides = load_ruleset().overrides
    names = ("raw", "geoip2 city()", "Locator.lookup", "Locator.locate")
    per_round: list[dict[str, float]] = []

    def fresh() -> Locator:
        return Locator.from_paths(
            [p for p in paths if p != str(embedded_city_path())],
            embedded=str(embedded_city_path()) in paths,
            overrides=overrides,
        )

    print(f"{label}: {len(ips):,} lookups x {rounds} rounds, sides alternating every {chunk}")
    for i in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        loc1, loc2 = fresh(), fresh()

        def raw(part: list[str], _h: Sequence[str | None]) -> None:
            for ip in part:
                for r in readers:
                    r.get(ip)

        def city(part: list[str], _h: Sequence[str | None]) -> None:
            for ip in part:
                with contextlib.suppress(geoip2.errors.AddressNotFoundError, ValueError):
                    g.city(ip)

        def looked_up(
            part: list[str], _h: Sequence[str | None], lookup: Callable[..., object] = loc1.lookup
        ) -> None:
            for ip in part:
                lookup(ip)

        def located(
            part: list[str], hs: Sequence[str | None], locate: Callable[..., object] = loc2.locate
        ) -> None:
            for ip, host in zip(part, hs, strict=True):
                locate(host, ip, 443, host)

        sides: list[tuple[str, Callable[[list[str], Sequence[str | None]], None]]] = [
            ("raw", raw),
            ("Locator.lookup", looked_up),
            ("Locator.locate", located),
            ("geoip2 city()", city),
        ]
        for n, start in enumerate(range(0, len(ips), chunk)):
            part, hs = ips[start : start + chunk], hosts[start : start + chunk]
            order = sides if (n + i) % 2 == 0 else sides[::-1]
            for name, fn in order:
                t0 = time.perf_counter()
                fn(part, hs)
                spent[name] += time.perf_counter() - t0
        loc1.close()
        loc2.close()
        per_round.append(spent)
        raw_rate = len(ips) / spent["raw"]
        cells = [f"raw {raw_rate:,.0f}/s"] + [
            f"{name} {len(ips) / spent[name] / raw_rate:.2f}x" for name in names[1:]
        ]
        print(f"  round {i + 1}: " + ", ".join(cells))
    total = len(ips) * rounds
    sums = {name: sum(r[name] for r in per_round) for name in names}
    raw_rate = total / sums["raw"]
    print(f"  {'raw maxminddb get':<20} {raw_rate:>12,.0f}/s")
    for name in names[1:]:
        rate = total / sums[name]
        print(f"  {name:<20} {rate:>12,.0f}/s  ({rate / raw_rate:.2f}x raw)")
    ratios = [r["raw"] / r["Locator.lookup"] for r in per_round]
    met = "met" if min(ratios) >= target else "NOT met"
    print(
        f"  target: Locator.lookup >= {target}x raw in every round: {met} "
        f"(rounds {min(ratios):.2f}x..{max(ratios):.2f}x)"
    )
    for r in readers:
        r.close()
    g.close()


def _stage(n: int, distinct: int, rounds: int, rng: random.Random) -> None:
    ips, hosts = _repeating(n, distinct, rng)
    # The device's DNS answers for each destination, as the proxy's DNS mode sees them.
    answers = []
    for host, ip in dict(zip(hosts, ips, strict=True)).items():
        f = tflow.tdnsflow(resp=True)
        assert f.response is not None
        edge = f"{host}.edgekey.net" if hash(host) % 4 == 0 else host
        f.response.answers = [dns.ResourceRecord.A(edge, ipaddress.IPv4Address(ip))]
        if edge != host:
            f.response.answers.insert(0, dns.ResourceRecord.CNAME(host, edge))
        answers.append(f)
    flows = []
    for ip, host in zip(ips, hosts, strict=True):
        f = tflow.tflow(resp=True)
        f.request.host = host
        f.server_conn.peername = (ip, 443)
        f.server_conn.sni = host
        flows.append(f)
    collecting = [0.0, 0.0]

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collecting[0] = time.perf_counter()
        else:
            collecting[1] += time.perf_counter() - collecting[0]

    print(
        f"destination stage (naming + attribution, {len(answers)} DNS answers, {n:,} HTTP flows "
        f"to {distinct} servers, all {n:,} flows alive):"
    )
    overrides = load_ruleset().overrides
    for i in range(rounds):
        for f in flows:
            f.metadata.clear()
        loc = Locator.from_paths(overrides=overrides)
        naming, attribution = Naming(loc.names), Attribution(loc)
        collecting[1] = 0.0
        gc.callbacks.append(timed)
        start = time.perf_counter()
        for a in answers:
            naming.dns_response(a)
        for f in flows:
            attribution.response(f)
        took = time.perf_counter() - start
        gc.callbacks.remove(timed)
        print(
            f"  round {i + 1}: {took / n * 1e6:.1f} us per flow "
            f"(of which the garbage collector {collecting[1] / n * 1e6:.1f} us)"
        )
        loc.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lookups", type=int, default=100_000)
    p.add_argument("--distinct", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--geoip", action="append", default=[], help="operator databases to add")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    rng = random.Random(args.seed)
    paths = [*args.geoip, str(embedded_city_path())]
    ips, hosts = _repeating(args.lookups, args.distinct, rng)
    _compare("repeating destinations", paths, ips, hosts, args.rounds, TARGET_REPEAT)
    distinct = _global_ips(args.lookups, rng)
    no_hosts: list[str | None] = [None] * len(distinct)
    _compare("all-distinct IPs", paths, distinct, no_hosts, args.rounds, TARGET_DISTINCT)
    _stage(min(args.lookups, 20_000), args.distinct, args.rounds, rng)


if __name__ == "__main__":
    main()
