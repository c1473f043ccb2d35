"""Country attribution from real .mmdb files: embedded, operator-provided, ASN."""

from __future__ import annotations

from pathlib import Path

import pytest

from shekara.audit.model import Confidence
from shekara.geo.locate import Locator
from shekara.geo.mmdb import GeoError, MmdbSource, embedded_city_path


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
