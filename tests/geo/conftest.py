"""Small real .mmdb files written with mmdb-writer, read back by geoip2 like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet


def write_city(path: Path, entries: dict[str, tuple[str, str | None]]) -> Path:
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    for net, (country, city) in entries.items():
        rec: dict[str, object] = {"country": {"iso_code": country, "names": {"en": country}}}
        if city:
            rec["city"] = {"names": {"en": city}}
        w.insert_network(IPSet([net]), rec)
    w.to_db_file(str(path))
    return path


def write_asn(path: Path, entries: dict[str, tuple[int, str]]) -> Path:
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    for net, (asn, org) in entries.items():
        w.insert_network(
            IPSet([net]),
            {"autonomous_system_number": asn, "autonomous_system_organization": org},
        )
    w.to_db_file(str(path))
    return path


@pytest.fixture
def city_db(tmp_path: Path) -> Path:
    return write_city(
        tmp_path / "city.mmdb",
        {"46.4.0.0/24": ("KZ", "Almaty"), "1.1.1.0/24": ("CN", "Shanghai")},
    )


@pytest.fixture
def asn_db(tmp_path: Path) -> Path:
    return write_asn(tmp_path / "asn.mmdb", {"1.1.1.0/24": (37963, "Alibaba (example)")})


def write_db(path: Path, database_type: str, entries: dict[str, dict[str, object]]) -> Path:
    """Any layout: the records are written as given (DB-IP lite, IPinfo lite, Country...)."""
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for net, rec in entries.items():
        w.insert_network(IPSet([net]), rec)
    w.to_db_file(str(path))
    return path


def geoip2_record(
    country: str, city: str | None = None, lat: float | None = None, lon: float | None = None
) -> dict[str, object]:
    rec: dict[str, object] = {"country": {"iso_code": country, "names": {"en": country}}}
    if city:
        rec["city"] = {"names": {"en": city}}
    if lat is not None and lon is not None:
        rec["location"] = {"latitude": lat, "longitude": lon, "accuracy_radius": 20}
    return rec
