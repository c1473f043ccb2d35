"""Several sources built as real .mmdb files: they agree, disagree and miss; overrides and CDNs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shekara.audit.model import Confidence
from shekara.geo.cdn import CdnCatalogue
from shekara.geo.consensus import Vote, decide
from shekara.geo.locate import Locator
from shekara.geo.mmdb import MmdbSource
from shekara.rulesets.schema import Override, OverrideExample, OverrideExamples
from tests.geo.conftest import geoip2_record, write_db


@pytest.fixture
def dbs(tmp_path: Path) -> list[Path]:
    """Three operator databases in three layouts (MaxMind City, DB-IP lite, IPinfo lite)."""
    maxmind = write_db(
        tmp_path / "maxmind-city.mmdb",
        "GeoLite2-City",
        {
            "5.1.0.0/16": geoip2_record("KZ", "Almaty", 43.25, 76.9),
            "5.2.0.0/16": geoip2_record("CN", "Shanghai", 31.2, 121.5),
            "5.3.0.0/16": geoip2_record("DE", "Frankfurt", 50.1, 8.7),
        },
    )
    dbip = write_db(
        tmp_path / "dbip-country-lite.mmdb",
        "DBIP-Country-Lite",
        {
            "5.1.0.0/16": geoip2_record("KZ"),
            "5.2.0.0/16": geoip2_record("KZ"),
            # 5.3.0.0/16: no record, this database abstains
        },
    )
    ipinfo = write_db(
        tmp_path / "ipinfo-lite.mmdb",
        "ipinfo lite.mmdb",
        {
            "5.1.0.0/16": {
                "country_code": "KZ",
                "country": "Kazakhstan",
                "asn": "AS9198",
                "as_name": "JSC Kazakhtelecom",
                "as_domain": "telecom.kz",
            },
            "5.3.0.0/16": {"country_code": "DE", "asn": "AS24940", "as_name": "Hetzner"},
        },
    )
    return [maxmind, dbip, ipinfo]


def _loc(paths: list[Path], **kw: object) -> Locator:
    return Locator.from_paths(paths, embedded=False, **kw)  # type: ignore[arg-type]


def test_three_layouts_are_read(dbs: list[Path]) -> None:
    kinds = [(s.layout, s.provides_country, s.provides_asn) for s in map(MmdbSource, dbs)]
    assert kinds == [("geoip2", True, False), ("geoip2", True, False), ("ipinfo", True, True)]
    a = MmdbSource(dbs[2]).lookup("5.1.2.3")
    assert a is not None and (a.country, a.asn, a.org) == ("KZ", 9198, "JSC Kazakhtelecom")
    assert a.network == "5.1.0.0/16"


def test_sources_agree_high_confidence_every_answer_recorded(dbs: list[Path]) -> None:
    d = _loc(dbs).locate("telematics.example.kz", "5.1.2.3", 443)
    assert (d.country, d.city, d.confidence, d.disputed) == ("KZ", "Almaty", Confidence.HIGH, False)
    assert (d.asn, d.org) == (9198, "JSC Kazakhtelecom")
    answers = {(e["source"], e["country"]) for e in d.evidence if e["kind"] == "mmdb"}
    assert answers == {
        ("GeoLite2-City (maxmind-city.mmdb)", "KZ"),
        ("DBIP-Country-Lite (dbip-country-lite.mmdb)", "KZ"),
        ("ipinfo lite.mmdb (ipinfo-lite.mmdb)", "KZ"),
    }
    assert d.geo_source is not None and d.geo_source.count(" + ") == 2
    (consensus,) = [e for e in d.evidence if e["kind"] == "consensus"]
    assert consensus["outcome"] == "agreed" and "disagreement is a dispute" in consensus["rule"]
    assert {"kind": "name", "name": "telematics.example.kz", "how": "flow-host", "chain": []} in (
        d.evidence
    )
    assert len(d.sources()) == 3


def test_sources_disagree_disputed_no_pick(dbs: list[Path]) -> None:
    d = _loc(dbs).locate(None, "5.2.0.1", 443)
    assert d.disputed and d.country is None and d.confidence is Confidence.LOW
    (consensus,) = [e for e in d.evidence if e["kind"] == "consensus"]
    assert consensus["outcome"] == "disputed" and consensus["candidates"] == ["CN", "KZ"]
    # The IPinfo database has no record: recorded as a miss, not as a vote.
    misses = [e["source"] for e in d.evidence if e["kind"] == "mmdb" and e.get("miss")]
    assert misses == ["ipinfo lite.mmdb (ipinfo-lite.mmdb)"]


def test_a_missing_source_abstains(dbs: list[Path]) -> None:
    d = _loc(dbs).locate(None, "5.3.9.9", 443)
    assert (d.country, d.confidence, d.disputed) == ("DE", Confidence.HIGH, False)
    assert d.org == "Hetzner"
    d2 = _loc(dbs).locate(None, "8.8.123.1", 443)  # in no database at all
    assert d2.country is None and not d2.disputed and d2.confidence is Confidence.LOW
    assert [e["outcome"] for e in d2.evidence if e["kind"] == "consensus"] == ["no answer"]


def _override(country: str, hosts: list[str] = (), networks: list[str] = ()) -> Override:  # type: ignore[assignment]
    return Override.model_validate(
        {
            "id": f"T-{country}-1",
            "title": "test",
            "country": country,
            "hosts": list(hosts),
            "networks": list(networks),
            "verified_by": "Inspector A",
            "verified_on": dt.date(2026, 10, 1),
            "how": "hosting contract",
            "examples": OverrideExamples(
                match=[OverrideExample(host="a.example")],
                no_match=[OverrideExample(host="b.example")],
            ),
        }
    )


def test_override_outranks_databases_and_keeps_them_as_overruled(dbs: list[Path]) -> None:
    loc = _loc(dbs, overrides=[_override("KZ", networks=["5.2.0.0/16"])])
    d = loc.locate("tsp.example.cn", "5.2.0.1", 443)
    assert (d.country, d.confidence, d.disputed) == ("KZ", Confidence.HIGH, False)
    assert d.geo_source == "override T-KZ-1" and d.geo_build == "2026-10-01"
    (o,) = [e for e in d.evidence if e["kind"] == "override"]
    assert (o["verified_by"], o["verified_on"], o["how"]) == (
        "Inspector A",
        "2026-10-01",
        "hosting contract",
    )
    overruled = [e["source"] for e in d.evidence if e.get("overruled")]
    assert overruled == ["GeoLite2-City (maxmind-city.mmdb)"]


def test_override_by_host_name_and_conflicting_overrides(dbs: list[Path]) -> None:
    loc = _loc(dbs, overrides=[_override("KZ", hosts=["kz-dc.example"])])
    d = loc.locate("api.kz-dc.example", "5.3.0.1", 443)
    assert d.country == "KZ" and d.geo_source == "override T-KZ-1"
    both = [_override("KZ", hosts=["kz-dc.example"]), _override("DE", networks=["5.3.0.0/16"])]
    d2 = _loc(dbs, overrides=both).locate("api.kz-dc.example", "5.3.0.1", 443)
    assert d2.disputed and d2.country is None


def test_cdn_range_and_cname_are_flagged(tmp_path: Path) -> None:
    db = write_db(
        tmp_path / "c.mmdb",
        "GeoLite2-City",
        {"104.16.0.0/13": geoip2_record("US"), "93.184.0.0/16": geoip2_record("NL")},
    )
    loc = Locator.from_paths([db], embedded=False)
    d = loc.locate("api.example-oem.cn", "104.16.1.1", 443)
    assert (d.cdn, d.country, d.confidence) == ("Cloudflare", "US", Confidence.LOW)
    (cdn,) = [e for e in d.evidence if e["kind"] == "cdn"]
    assert "not where the data is stored" in cdn["note"] and cdn["matched_by"].startswith("range")
    # Reached under a CloudFront name: the name betrays the CDN.
    loc.names.learn(
        {"img.example-oem.cn": "d111.cloudfront.net"}, [("d111.cloudfront.net", "93.184.1.1")]
    )
    d2 = loc.locate(None, "93.184.1.1", 443)
    assert d2.cdn == "Amazon CloudFront"
    (name,) = [e for e in d2.evidence if e["kind"] == "name" and e["name"] == "img.example-oem.cn"]
    assert name["chain"] == ["img.example-oem.cn", "d111.cloudfront.net"]
    assert name["how"] == "device-dns"


def test_bundled_cdn_catalogue_loads() -> None:
    cat = CdnCatalogue()
    assert {"Cloudflare", "Akamai", "Fastly", "Amazon CloudFront"} <= set(cat.providers)
    assert cat.by_names(["x.akamaiedge.net"]) is not None
    assert cat.by_names(["akamaiedge.net.evil.example"]) is None


@pytest.mark.parametrize(
    "dbs_votes, overrides, rtt, expected",
    [
        ([("a", "KZ"), ("b", "KZ")], [], None, ("KZ", "high", False)),
        ([("a", "KZ")], [], None, ("KZ", "medium", False)),
        ([("a", "KZ"), ("b", "CN")], [], None, (None, "low", True)),
        ([("a", "CN")], [("o", "KZ")], None, ("KZ", "high", False)),
        ([("a", "DE"), ("b", "DE")], [], "implausible", (None, "low", True)),
        ([("a", "KZ"), ("b", "KZ")], [], "slow", ("KZ", "medium", False)),
        ([], [], None, (None, "low", False)),
    ],
)
def test_the_stated_rule(
    dbs_votes: list[tuple[str, str]],
    overrides: list[tuple[str, str]],
    rtt: str | None,
    expected: tuple[str | None, str, bool],
) -> None:
    d = decide(
        [Vote(s, "b", c) for s, c in dbs_votes], [Vote(s, "b", c) for s, c in overrides], rtt
    )
    assert (d.country, str(d.confidence), d.disputed) == expected
