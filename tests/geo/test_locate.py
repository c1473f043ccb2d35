"""Country attribution from real .mmdb files: embedded, operator-provided, ASN."""

from __future__ import annotations

from pathlib import Path

import pytest

from shekara.audit.model import Confidence
from shekara.geo.locate import Locator
from shekara.geo.mmdb import GeoAnswer, GeoError, MmdbSource, embedded_city_path
from tests.geo.conftest import geoip2_record, write_db


@pytest.fixture(scope="module")
def embedded() -> Locator:
    return Locator.from_paths()


@pytest.mark.parametrize(
    "ip, country",
    [
        ("95.56.0.1", "KZ"),
        ("2.133.0.1", "KZ"),
        ("223.5.5.5", "CN"),
        ("88.198.0.1", "DE"),
        ("77.88.8.8", "RU"),
    ],
)
def test_embedded_database(embedded: Locator, ip: str, country: str) -> None:
    d = embedded.locate("h.example", ip, 443)
    assert d.country == country
    assert d.geo_source == "GeoLite2-City (embedded)"
    assert d.geo_build == "2019-12-24"
    assert d.confidence is Confidence.MEDIUM


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.1.10", "127.0.0.1", "100.64.0.1", "::1"])
def test_private_addresses_have_no_country(embedded: Locator, ip: str) -> None:
    d = embedded.locate(None, ip, 80)
    assert d.private and d.country is None and d.geo_source is None


def test_no_ip_is_unknown(embedded: Locator) -> None:
    d = embedded.locate("only-a-name.example", None, 443)
    assert d.country is None and not d.private


def test_operator_database_agreeing_and_disagreeing_with_the_embedded_one(
    city_db: Path, asn_db: Path
) -> None:
    loc = Locator.from_paths([city_db, asn_db])
    d = loc.locate("x", "1.1.1.7", 443)
    # 1.1.1.0/24: the operator's database says CN, the embedded one AU: no silent pick.
    assert d.disputed and d.country is None and d.confidence is Confidence.LOW
    assert d.geo_source == "disputed: GeoLite2-City (city.mmdb)=CN, GeoLite2-City (embedded)=AU"
    assert (d.asn, d.org) == (37963, "Alibaba (example)")
    # The embedded database places 46.4.0.0/24 in Germany, the operator's in KZ: disputed too.
    assert loc.locate("z", "46.4.0.9", 443).disputed
    # Not in the operator database: it abstains, and the embedded one answers alone.
    d2 = loc.locate("y", "88.198.0.1", 443)
    assert d2.country == "DE" and d2.geo_source == "GeoLite2-City (embedded)"
    assert d2.confidence is Confidence.MEDIUM
    misses = [e for e in d2.evidence if e["kind"] == "mmdb" and e.get("miss")]
    assert [m["source"] for m in misses] == ["GeoLite2-City (city.mmdb)"]
    assert [s["type"] for s in loc.describe()] == ["GeoLite2-City", "GeoLite2-ASN", "GeoLite2-City"]


def test_unreadable_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database at all" * 10)
    with pytest.raises(GeoError, match=r"bad\.mmdb"):
        MmdbSource(bad)


def test_embedded_file_exists() -> None:
    assert embedded_city_path().stat().st_size > 10_000_000


def test_a_record_is_read_with_its_location_as_floats(tmp_path: Path) -> None:
    db = write_db(
        tmp_path / "c.mmdb",
        "GeoLite2-City",
        {"5.1.0.0/16": geoip2_record("kz", "Almaty", 43.25, 76.95)},
    )
    a = MmdbSource(db).lookup("5.1.2.3")
    assert a is not None and type(a) is GeoAnswer
    assert (a.country, a.city, a.prefix, a.ip) == ("KZ", "Almaty", 16, "5.1.2.3")
    # accuracy_radius is stored as an integer; the answer carries floats throughout.
    assert (a.latitude, a.longitude, a.radius_km) == (43.25, 76.95, 20.0)
    assert type(a.radius_km) is float and a.network == "5.1.0.0/16"
    assert MmdbSource(db).lookup("5.2.0.1") is None


def test_caches_keep_an_ip_and_a_destination_from_their_second_sighting(
    city_db: Path, asn_db: Path
) -> None:
    loc = Locator.from_paths([city_db, asn_db], cache_size=4)
    first, second, third = (loc.lookup("1.1.1.7") for _ in range(3))
    # Every sighting carries the same answers; only the second one is kept and handed out again.
    assert first == second == third and first is not second and third is second
    d1, d2, d3 = (loc.locate("x", "1.1.1.7", 443) for _ in range(3))
    assert d1 == d2 == d3 and d1 is not d2 and d3 is d2
    assert d1.disputed and (d1.asn, d1.org) == (37963, "Alibaba (example)")
    networks = [(e["kind"], e["network"]) for e in d1.evidence if "network" in e]
    assert networks == [("mmdb", "1.1.1.0/24"), ("mmdb", "1.1.1.0/24"), ("asn", "1.1.1.0/24")]
    # Bounded however many distinct IPs pass, once or repeatedly.
    for n in range(40):
        for _ in range(2):
            a = loc.lookup(f"46.4.0.{n}")
            assert a.answers[0].country == "KZ" and a.answers[0].city == "Almaty"
    assert len(loc._ips) <= 4 and len(loc._seen) <= 4
