"""Known CDN and anycast services: where an IP database's country is an edge's, not storage's.

The catalogue is data (``cdn.yaml``, or an operator's file of the same form),
matched by IP range, by any name of the destination (its host, SNI and every
name of its CNAME chains) and by the ASN of its IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shekara.geo.mmdb import GeoError
from shekara.geo.names import SuffixMap
from shekara.geo.ranges import Address, RangeMap


class _Provider(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    asns: list[int] = Field(default_factory=list)
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    providers: list[_Provider]


class CdnMatch(NamedTuple):
    """Which provider, and what matched: ``range 104.16.0.0/13``, ``name x.cloudfront.net``."""

    provider: str
    matched_by: str


def default_catalogue_path() -> Path:
    return Path(str(resources.files("shekara.geo") / "cdn.yaml"))


class CdnCatalogue:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_catalogue_path()
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
            cat = _Catalogue.model_validate(data)
        except (OSError, yaml.YAMLError, ValidationError) as e:
            raise GeoError(f"{self.path}: not a CDN catalogue: {e}") from e
        self.providers = tuple(p.name for p in cat.providers)
        self._ranges: RangeMap[tuple[str, str]] = RangeMap(
            (str(n), (p.name, str(n))) for p in cat.providers for n in p.networks
        )
        self._names: SuffixMap[str] = SuffixMap((n, p.name) for p in cat.providers for n in p.names)
        self._asns = {a: p.name for p in cat.providers for a in p.asns}

    def by_address(self, addr: Address) -> CdnMatch | None:
        got = self._ranges.get(addr)
        return CdnMatch(got[0], f"range {got[1]}") if got else None

    def by_names(self, names: Iterable[str]) -> CdnMatch | None:
        for name in names:
            got = self._names.get(name)
            if got is not None:
                return CdnMatch(got[1], f"name {name} (under {got[0]})")
        return None

    def by_asn(self, asn: int | None) -> CdnMatch | None:
        if asn is None or asn not in self._asns:
            return None
        return CdnMatch(self._asns[asn], f"AS{asn}")
