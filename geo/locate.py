"""Turns (host, ip, port, sni) into a Destination carrying every source's answer.

Each location database (operator databases and the embedded one), the
operator overrides of the ruleset, the names the IP was reached under (the
device's own DNS, the flow's Host and SNI), the ASN of the IP, the TLS
certificate's organisations, the CDN catalogue and, when asked for, a
measured round trip all become evidence on the Destination; the consensus
rule (``geo.consensus``) turns the votes into a country and a confidence, or
a dispute.

Answers are cached: the database part per IP, the whole destination per
(host, IP, port, SNI, certificate, names known for the IP), since a capture
talks to few servers many times. A key is admitted on its second sighting,
so that a stream of distinct IPs costs no more than the lookups themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from shekara.audit.model import Destination
from shekara.geo.cdn import CdnCatalogue, CdnMatch
from shekara.geo.consensus import Decision, Vote, decide
from shekara.geo.dnsquery import DnsLookup
from shekara.geo.mmdb import GeoAnswer, GeoSource, MmdbSource, embedded_city_path
from shekara.geo.names import AUDIT_RESOLUTION, NameBook, normalise_name
from shekara.geo.overrides import OverrideIndex, override_evidence
from shekara.geo.ranges import Address, is_global, network_of, parse
from shekara.geo.rtt import ALMATY, TcpProbe, check, claim_for
from shekara.rulesets.schema import Override

log = logging.getLogger(__name__)

EMBEDDED_NAME = "GeoLite2-City (embedded)"
CDN_NOTE = "the country is that of a CDN/anycast edge, not where the data is stored"


class IpAnswer(NamedTuple):
    """Everything the offline sources say about one IP, and their consensus without names.

    Cached per IP: the part of a destination that depends on the IP alone.
    Named tuples stay tracked by the garbage collector (only plain tuples are
    untracked), so the caches admit only what comes back (see ``_admit``).
    """

    ip: str
    addr: Address | None
    private: bool
    answers: tuple[GeoAnswer, ...]  # one per location source; country None: no record
    asn: GeoAnswer | None
    cdn: CdnMatch | None  # by range or ASN


class Locator:
    def __init__(
        self,
        sources: Sequence[GeoSource],
        *,
        overrides: Sequence[Override] = (),
        cdn: CdnCatalogue | None = None,
        names: NameBook | None = None,
        station: tuple[float, float] = ALMATY,
        probe: TcpProbe | None = None,
        cache_size: int = 16384,
    ) -> None:
        self.sources = list(sources)
        self.location_sources = [s for s in sources if s.provides_country]
        self.asn_sources = [s for s in sources if s.provides_asn]
        self.overrides = OverrideIndex(overrides)
        self.cdn = cdn
        self.names = names if names is not None else NameBook()
        self.station = station
        self.probe = probe
        self.cache_size = cache_size
        # Each cache admits a key on its second sighting (see ``_admit``).
        self._ips: dict[str, IpAnswer] = {}
        self._seen: set[str] = set()
        self._destinations: dict[tuple[Any, ...], Destination] = {}
        self._seen_destinations: set[tuple[Any, ...]] = set()

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[str | Path] = (),
        embedded: bool = True,
        *,
        overrides: Sequence[Override] = (),
        cdn: CdnCatalogue | bool | None = True,
        names: NameBook | None = None,
        station: tuple[float, float] = ALMATY,
        probe: TcpProbe | None = None,
        cache_size: int = 16384,
    ) -> Locator:
        sources: list[GeoSource] = [MmdbSource(p) for p in paths]
        if embedded:
            sources.append(MmdbSource(embedded_city_path(), name=EMBEDDED_NAME))
        catalogue = CdnCatalogue() if cdn is True else (cdn or None)
        return cls(
            sources,
            overrides=overrides,
            cdn=catalogue,
            names=names,
            station=station,
            probe=probe,
            cache_size=cache_size,
        )

    def describe(self) -> list[dict[str, str]]:
        """The sources in use, for the run record."""
        out: list[dict[str, str]] = []
        for s in self.sources:
            describe = getattr(s, "describe", None)
            out.append(describe() if describe else {"name": s.name, "build": s.build})
        for o in self.overrides.overrides:
            out.append(
                {"name": f"override {o.id}", "type": "override", "build": str(o.verified_on)}
            )
        return out

    # -- the hot path -----------------------------------------------------------

    def locate(
        self,
        host: str | None,
        ip: str | None,
        port: int | None,
        sni: str | None = None,
        tls: tuple[str | None, str | None] | None = None,
    ) -> Destination:
        """The destination with its evidence; ``tls`` is (subject org, issuer org) if seen."""
        known = len(self.names.names(ip)) if ip else 0
        key = (host, ip, port, sni, tls, known)
        got = self._destinations.get(key)
        if got is not None:
            return got
        got = self._build(host, ip, port, sni, tls, known)
        _admit(self._destinations, self._seen_destinations, key, got, self.cache_size)
        return got

    def lookup(self, ip: str) -> IpAnswer:
        """The sources' answers for one IP (cached from its second sighting on)."""
        got = self._ips.get(ip)
        if got is not None:
            return got
        got = self._lookup_ip(ip)
        _admit(self._ips, self._seen, ip, got, self.cache_size)
        return got

    def _lookup_ip(self, ip: str) -> IpAnswer:
        addr = parse(ip)
        if addr is not None and not is_global(addr):
            return IpAnswer(ip, addr, True, (), None, None)
        answers = tuple([s.lookup(ip) or GeoAnswer(s.name, s.build) for s in self.location_sources])
        asn: GeoAnswer | None = None
        for s in self.asn_sources:
            got = s.lookup(ip)
            if got is not None and got.asn:
                asn = got
                break
        cdn = None
        if self.cdn is not None:
            cdn = (self.cdn.by_address(addr) if addr is not None else None) or (
                self.cdn.by_asn(asn.asn) if asn is not None else None
            )
        return _new(IpAnswer, (ip, addr, False, answers, asn, cdn))

    def _build(
        self,
        host: str | None,
        ip: str | None,
        port: int | None,
        sni: str | None,
        tls: tuple[str | None, str | None] | None,
        _known: int,
        extra_names: tuple[dict[str, Any], ...] = (),
        ptr: tuple[str, ...] = (),
        rtt_ms: float | None = None,
        host_how: str = "flow-host",
    ) -> Destination:
        evidence: list[dict[str, Any]] = []
        name_items = self._name_evidence(host, ip, sni, host_how) + list(extra_names)
        evidence.extend(name_items)
        names = [n["name"] for n in name_items] + [c for n in name_items for c in n["chain"]]
        names += list(ptr)
        if ptr:
            evidence.append({"kind": "ptr", "names": list(ptr)})
        if tls is not None and any(tls):
            evidence.append({"kind": "tls", "subject_org": tls[0], "issuer_org": tls[1]})
        if not ip:
            return self._finish(host, None, port, sni, evidence, names, None, rtt_ms)
        facts = self.lookup(ip)
        if facts.private:
            evidence.append(decide((), private=True).evidence())
            return Destination(
                host=host,
                ip=ip,
                port=port,
                sni=sni,
                private=True,
                evidence=tuple(evidence),
            )
        return self._finish(host, ip, port, sni, evidence, names, facts, rtt_ms)

    def _name_evidence(
        self, host: str | None, ip: str | None, sni: str | None, host_how: str = "flow-host"
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        if host and not _is_ip(host):
            n = normalise_name(host)
            seen.add(n)
            items.append({"kind": "name", "name": n, "how": host_how, "chain": []})
        if sni and normalise_name(sni) not in seen:
            n = normalise_name(sni)
            seen.add(n)
            items.append({"kind": "name", "name": n, "how": "tls-sni", "chain": []})
        if ip:
            for rec in self.names.names(ip):
                items.append(
                    {
                        "kind": "name",
                        "name": rec.name,
                        "how": rec.how,
                        "chain": list(rec.chain) if len(rec.chain) > 1 else [],
                        "seen_at": rec.seen_at,
                    }
                )
        return items

    def _finish(
        self,
        host: str | None,
        ip: str | None,
        port: int | None,
        sni: str | None,
        evidence: list[dict[str, Any]],
        names: list[str],
        facts: IpAnswer | None,
        rtt_ms: float | None,
    ) -> Destination:
        addr = facts.addr if facts else None
        asn = facts.asn if facts else None
        answers = facts.answers if facts else ()
        cdn = facts.cdn if facts else None
        if len(names) > 1:
            names = list(dict.fromkeys(names))
        override_votes: list[Vote] = []
        if self.overrides:
            hit = self.overrides.by_address(addr)
            matched = [(f"range of {ip}", hit)] if hit else []
            matched += [(f"name {n}", o) for n, o in self.overrides.by_names(names)]
            for how, o in dict((o.id, (how, o)) for how, o in matched).values():
                evidence.append(override_evidence(o, how))
                override_votes.append(
                    Vote(f"override {o.id}", o.verified_on.isoformat(), o.country)
                )
        db_votes = [_new(Vote, (a.source, a.build, a.country)) for a in answers if a.country]
        for a in answers:
            if a.country is None:
                evidence.append(
                    {"kind": "mmdb", "source": a.source, "build": a.build, "miss": True}
                )
            else:
                evidence.append(_answer_evidence(a, addr))
        if asn is not None:
            evidence.append(
                {
                    "kind": "asn",
                    "source": asn.source,
                    "build": asn.build,
                    "asn": asn.asn,
                    "org": asn.org,
                    "network": _network(asn, addr),
                }
            )
        if cdn is None and self.cdn is not None and names:
            cdn = self.cdn.by_names(names)
        if cdn is not None:
            evidence.append(
                {
                    "kind": "cdn",
                    "provider": cdn.provider,
                    "matched_by": cdn.matched_by,
                    "note": CDN_NOTE,
                    "overruled": bool(override_votes),
                }
            )
        decision = decide(db_votes, override_votes, cdn=cdn is not None)
        if decision.country and (rtt_ms is not None):
            result = self._rtt(rtt_ms, decision, answers)
            if result is not None:
                evidence.append(result[1])
                decision = decide(db_votes, override_votes, result[0], cdn=cdn is not None)
        elif rtt_ms is not None:
            evidence.append({"kind": "rtt", "rtt_ms": round(rtt_ms, 3), "outcome": "no claim"})
        if override_votes:
            agreed = {v.country for v in override_votes}
            for e in evidence:
                if e["kind"] == "mmdb" and e.get("country") and e["country"] not in agreed:
                    e["overruled"] = True
        evidence.append(decision.evidence())
        geo_source, geo_build = _deciders(decision)
        city = None
        if decision.country and not override_votes:
            city = next(
                (a.city for a in answers if a.country == decision.country and a.city),
                None,
            )
        return Destination(
            host=host,
            ip=ip,
            port=port,
            sni=sni,
            country=decision.country,
            city=city,
            asn=asn.asn if asn else None,
            org=asn.org if asn else None,
            geo_source=geo_source,
            geo_build=geo_build,
            confidence=decision.confidence,
            disputed=decision.disputed,
            cdn=cdn.provider if cdn is not None and not override_votes else None,
            evidence=tuple(evidence),
        )

    def _rtt(
        self,
        rtt_ms: float,
        decision: Decision,
        answers: tuple[GeoAnswer, ...],
    ) -> tuple[str, dict[str, Any]] | None:
        assert decision.country is not None
        with_coords = next(
            (a for a in answers if a.country == decision.country and a.latitude is not None),
            None,
        )
        claim = claim_for(
            decision.country,
            with_coords.latitude if with_coords else None,
            with_coords.longitude if with_coords else None,
            with_coords.radius_km if with_coords else None,
        )
        if claim is None:
            return None
        result = check(rtt_ms, self.station, claim)
        return result.outcome, result.evidence()

    # -- the explaining path: active checks, on demand ---------------------------------

    def explain(
        self,
        target: str,
        port: int = 443,
        dns: DnsLookup | None = None,
        rtt: bool = False,
    ) -> list[Destination]:
        """Every destination ``target`` (a name or an IP) stands for, with active evidence.

        With ``dns`` a name is resolved now and each address's PTR is asked
        (recorded as ``audit-resolution``); with ``rtt`` the probe times a TCP
        handshake to each address.
        """
        if _is_ip(target):
            host, pairs = None, [(target, ())]
        else:
            host = normalise_name(target)
            pairs = []
            if dns is not None:
                res = dns.resolve(host)
                if res.error:
                    log.warning("resolving %s: %s", host, res.error)
                self.names.learn(res.cnames, res.addresses, how=AUDIT_RESOLUTION)
                pairs = [(ip, ()) for ip in dict.fromkeys(ip for _, ip in res.addresses)]
            if not pairs:
                return [self._build(host, None, port, None, None, 0, host_how="asked")]
        out = []
        probe = self.probe or TcpProbe()
        for ip, _ in pairs:
            ptr = dns.ptr(ip) if dns is not None else ()
            rtt_ms = probe.measure(ip, port) if rtt else None
            known = len(self.names.names(ip))
            out.append(self._build(host, ip, port, None, None, known, (), ptr, rtt_ms, "asked"))
        return out

    def close(self) -> None:
        for s in self.sources:
            s.close()


_new = tuple.__new__


def _admit[K, V](cache: dict[K, V], seen: set[K], key: K, value: V, size: int) -> None:
    """Keep ``value`` if ``key`` was seen before; else remember that it has been seen once.

    Traffic that comes back (a car's few servers) is cached from its second
    sighting; keys seen once (scans, many distinct IPs) are never stored.
    Storing them would cost more than the lookups: every kept entry is a live
    object the garbage collector walks again and again, which made a stream
    of distinct IPs 1.4 times as slow as building the answers afresh.
    Both are bounded: cleared when full, since traffic's servers come back at once.
    """
    if key in seen:
        if len(cache) >= size:
            cache.clear()
        cache[key] = value
    else:
        if len(seen) >= size:
            seen.clear()
        seen.add(key)


def _network(a: GeoAnswer, addr: Address | None) -> str | None:
    """``a.network``, from the address already parsed for the lookup."""
    if addr is None or a.prefix is None:
        return a.network
    return network_of(addr, a.prefix)


def _answer_evidence(a: GeoAnswer, addr: Address | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {
        "kind": "mmdb",
        "source": a.source,
        "build": a.build,
        "country": a.country,
        "network": _network(a, addr),
    }
    if a.city:
        e["city"] = a.city
    if a.latitude is not None:
        e["location"] = [a.latitude, a.longitude, a.radius_km]
    return e


def _deciders(decision: Decision) -> tuple[str | None, str | None]:
    if not decision.deciding:
        return None, None
    if len(decision.deciding) == 1:
        (v,) = decision.deciding
        return v.source[:100], v.build[:100]
    if decision.disputed:
        text = "disputed: " + ", ".join(f"{v.source}={v.country}" for v in decision.deciding)
        return text[:100], None
    sources = list(dict.fromkeys(v.source for v in decision.deciding))
    builds = list(dict.fromkeys(v.build for v in decision.deciding))
    return " + ".join(sources)[:100], " + ".join(builds)[:100]


def _is_ip(s: str) -> bool:
    return parse(s) is not None


__all__ = ["Locator"]
