"""The device's own DNS answers (real mitmproxy DNSFlows) become names of the IPs it reaches."""

from __future__ import annotations

import ipaddress

from mitmproxy import dns
from mitmproxy.test import taddons, tflow

from shekara.addons import state
from shekara.addons.attribution import Attribution
from shekara.addons.naming import Naming, answers_of
from shekara.geo.locate import Locator
from shekara.geo.names import DEVICE_DNS


def _response(records: list[dns.ResourceRecord]) -> dns.DNSMessage:
    f = tflow.tdnsflow(resp=True)
    assert f.response is not None
    f.response.answers = records
    return f.response


def _flow(records: list[dns.ResourceRecord]) -> dns.DNSFlow:
    f = tflow.tdnsflow(resp=True)
    assert f.response is not None
    f.response.answers = records
    return f


CHAIN = [
    dns.ResourceRecord.CNAME("tsp.example-oem.cn", "tsp.example-oem.cn.edgekey.net"),
    dns.ResourceRecord.CNAME("tsp.example-oem.cn.edgekey.net", "e1.a.akamaiedge.net"),
    dns.ResourceRecord.A("e1.a.akamaiedge.net", ipaddress.IPv4Address("223.5.5.5")),
]


def test_answers_of_parses_cnames_and_addresses() -> None:
    cnames, addresses = answers_of(_response(CHAIN))
    assert cnames == {
        "tsp.example-oem.cn": "tsp.example-oem.cn.edgekey.net",
        "tsp.example-oem.cn.edgekey.net": "e1.a.akamaiedge.net",
    }
    assert addresses == [("e1.a.akamaiedge.net", "223.5.5.5")]


def test_names_learned_from_dns_reach_a_later_flow_to_that_ip() -> None:
    loc = Locator.from_paths()
    naming, attribution = Naming(loc.names), Attribution(loc)
    with taddons.context(naming, attribution):
        naming.dns_response(_flow(CHAIN))
        f = tflow.ttcpflow()
        f.server_conn.address = ("223.5.5.5", 8443)
        f.server_conn.peername = ("223.5.5.5", 8443)
        f.server_conn.sni = None
        attribution.tcp_message(f)
    d = state.destination(f)
    assert d is not None
    names = {e["name"]: e for e in d.evidence if e["kind"] == "name"}
    assert names["tsp.example-oem.cn"]["how"] == DEVICE_DNS
    assert names["tsp.example-oem.cn"]["chain"] == [
        "tsp.example-oem.cn",
        "tsp.example-oem.cn.edgekey.net",
        "e1.a.akamaiedge.net",
    ]
    # The chain passes through Akamai: the embedded database's CN is an edge's country.
    assert d.cdn == "Akamai" and d.country == "CN"


def test_a_malformed_record_is_skipped_not_fatal() -> None:
    bad = dns.ResourceRecord("broken.example", 1, 1, 60, b"\x01\x02")  # A with 2 bytes
    good = dns.ResourceRecord.A("ok.example", ipaddress.IPv4Address("95.56.0.1"))
    loc = Locator.from_paths()
    naming = Naming(loc.names)
    with taddons.context(naming):
        naming.dns_response(_flow([bad, good]))
    assert [r.name for r in loc.names.names("95.56.0.1")] == ["ok.example"]
    assert loc.names.names("1.2.0.0") == ()


def test_a_dns_flow_without_response_is_ignored() -> None:
    loc = Locator.from_paths()
    naming = Naming(loc.names)
    f = tflow.tdnsflow(resp=False)
    with taddons.context(naming):
        naming.dns_response(f)
    assert len(loc.names) == 0
