"""The destination comes from the flow's recorded server address, never a new lookup."""

from __future__ import annotations

import pytest
from mitmproxy.test import taddons, tflow

from shekara.addons import state
from shekara.addons.attribution import Attribution, endpoint
from shekara.geo.locate import Locator


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_paths()


def test_recorded_peer_address_decides(locator: Locator) -> None:
    a = Attribution(locator)
    f = tflow.tflow(resp=True)
    f.request.host = "tsp.example-oem.cn"
    f.server_conn.address = ("tsp.example-oem.cn", 443)
    f.server_conn.peername = ("223.5.5.5", 443)
    f.server_conn.sni = "tsp.example-oem.cn"
    with taddons.context(a):
        a.response(f)
    d = state.destination(f)
    assert d is not None
    assert (d.host, d.ip, d.port, d.sni, d.country) == (
        "tsp.example-oem.cn",
        "223.5.5.5",
        443,
        "tsp.example-oem.cn",
        "CN",
    )
    assert d.geo_build == "2019-12-24"


def test_host_without_address_is_not_resolved(locator: Locator) -> None:
    """No peer recorded: the name stays a name; asking DNS now would be today's answer."""
    a = Attribution(locator)
    f = tflow.tflow(resp=True)
    f.request.host = "telematics.example.kz"
    f.server_conn.address = None
    f.server_conn.peername = None
    with taddons.context(a):
        a.response(f)
    d = state.destination(f)
    assert d is not None and d.ip is None and d.country is None
    assert d.host == "telematics.example.kz"


def test_literal_ip_host_is_used(locator: Locator) -> None:
    f = tflow.ttcpflow()
    f.server_conn.address = ("95.56.0.1", 1883)
    f.server_conn.peername = None
    f.server_conn.sni = None
    host, ip, port, sni = endpoint(f)
    assert (host, ip, port, sni) == ("95.56.0.1", "95.56.0.1", 1883, None)
    a = Attribution(locator)
    with taddons.context(a):
        a.tcp_message(f)
    d = state.destination(f)
    assert d is not None and d.country == "KZ"
