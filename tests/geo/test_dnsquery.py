"""Audit-time DNS evidence from a DNS server on loopback: names, CNAME chains, PTR names."""

from __future__ import annotations

from pathlib import Path

from shekara.geo.dnsquery import DnsLookup, parse_server
from shekara.geo.locate import Locator
from shekara.geo.names import AUDIT_RESOLUTION
from tests.geo.conftest import geoip2_record, write_db
from tests.geo.dnsserver import dns_server

ZONE = {
    "tsp.example-oem.cn.": [("CNAME", "tsp.example-oem.cn.cdn.dnsv1.com.")],
    "tsp.example-oem.cn.cdn.dnsv1.com.": [("A", "5.9.1.1"), ("A", "5.9.1.2")],
    "1.1.9.5.in-addr.arpa.": [("PTR", "edge-1.sh.example-cloud.cn.")],
    "plain.example-oem.kz.": [("A", "5.8.0.1")],
}


def test_parse_server() -> None:
    assert parse_server("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("[::1]:5300") == ("::1", 5300)


def test_resolution_follows_the_cname_chain_and_asks_ptr() -> None:
    with dns_server(ZONE) as server:
        lookup = DnsLookup(server, timeout=1.0)
        res = lookup.resolve("tsp.example-oem.cn")
        assert res.cnames == {"tsp.example-oem.cn": "tsp.example-oem.cn.cdn.dnsv1.com"}
        assert sorted(ip for _, ip in res.addresses) == ["5.9.1.1", "5.9.1.2"]
        assert lookup.ptr("5.9.1.1") == ("edge-1.sh.example-cloud.cn",)
        assert lookup.ptr("5.9.1.2") == ()
        missing = lookup.resolve("nothing.example")
        assert missing.addresses == () and missing.error is not None


def test_explain_records_audit_time_names_chain_ptr_and_cdn(tmp_path: Path) -> None:
    db = write_db(
        tmp_path / "c.mmdb",
        "GeoLite2-City",
        {"5.9.0.0/16": geoip2_record("CN", "Shanghai"), "5.8.0.0/16": geoip2_record("KZ")},
    )
    loc = Locator.from_paths([db], embedded=False)
    with dns_server(ZONE) as server:
        dests = loc.explain("tsp.example-oem.cn", dns=DnsLookup(server, timeout=1.0))
        plain = loc.explain("plain.example-oem.kz", dns=DnsLookup(server, timeout=1.0))
    assert sorted(d.ip or "" for d in dests) == ["5.9.1.1", "5.9.1.2"]
    d = next(d for d in dests if d.ip == "5.9.1.1")
    names = {e["name"]: e for e in d.evidence if e["kind"] == "name"}
    assert names["tsp.example-oem.cn"]["how"] == AUDIT_RESOLUTION
    assert names["tsp.example-oem.cn"]["chain"] == [
        "tsp.example-oem.cn",
        "tsp.example-oem.cn.cdn.dnsv1.com",
    ]
    assert {"kind": "ptr", "names": ["edge-1.sh.example-cloud.cn"]} in d.evidence
    # The chain ends at a Tencent Cloud CDN name: the country is an edge's.
    assert d.cdn == "Tencent Cloud CDN" and d.country == "CN"
    (p,) = plain
    assert (p.country, p.cdn) == ("KZ", None)
