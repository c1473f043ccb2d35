"""Turns (host, ip, port, sni) into a Destination using the configured databases.

Country comes from the first location database that knows the IP (operator
databases first, the embedded one last); ASN/org from an ASN database when
one is configured. Several-source consensus is a later refinement; until
then the deciding source and its build date are always recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from shekara.audit.model import Confidence, Destination
from shekara.geo.mmdb import MmdbSource, embedded_city_path, is_private


class Locator:
    """Caches answers per IP: a capture talks to few servers many times."""

    def __init__(self, sources: Sequence[MmdbSource]) -> None:
        self.location_sources = [s for s in sources if "ASN" not in s.kind]
        self.asn_sources = [s for s in sources if "ASN" in s.kind]
        self._cached = functools.lru_cache(maxsize=65536)(self._locate_ip)

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path] = (), embedded: bool = True) -> Locator:
        sources = [MmdbSource(p) for p in paths]
        if embedded:
            sources.append(MmdbSource(embedded_city_path(), name="GeoLite2-City (embedded)"))
        return cls(sources)

    def describe(self) -> list[dict[str, str]]:
        """The sources in use, for the run record."""
        return [
            {"name": s.name, "type": s.kind, "build": s.build, "path": str(s.path)}
            for s in self.location_sources + self.asn_sources
        ]

    def locate(
        self, host: str | None, ip: str | None, port: int | None, sni: str | None = None
    ) -> Destination:
        if not ip:
            return Destination(host=host, ip=None, port=port, sni=sni)
        country, city, src, build, asn, org, private, conf = self._cached(ip)
        return Destination(
            host=host,
            ip=ip,
            port=port,
            sni=sni,
            country=country,
            city=city,
            asn=asn,
            org=org,
            geo_source=src,
            geo_build=build,
            confidence=conf,
            private=private,
        )

    def _locate_ip(
        self, ip: str
    ) -> tuple[
        str | None, str | None, str | None, str | None, int | None, str | None, bool, Confidence
    ]:
        if is_private(ip):
            return None, None, None, None, None, None, True, Confidence.LOW
        country = city = src = build = org = None
        asn = None
        for s in self.location_sources:
            a = s.lookup(ip)
            if a and a.country:
                country, city, src, build = a.country, a.city, a.source, a.build
                break
        for s in self.asn_sources:
            a = s.lookup(ip)
            if a and a.asn:
                asn, org = a.asn, a.org
                break
        # One offline database: a country claim is plausible, not proven.
        conf = Confidence.MEDIUM if country else Confidence.LOW
        return country, city, src, build, asn, org, False, conf

    def close(self) -> None:
        for s in self.location_sources + self.asn_sources:
            s.close()
