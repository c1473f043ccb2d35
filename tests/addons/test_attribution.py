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


def test_intercepted_certificate_organisations_are_evidence(locator: Locator) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from mitmproxy import certs

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Example Issuing CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Trust Services"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    leaf = certs.dummy_cert(key, ca, "tsp.example-oem.cn", [], organization="Example OEM Co")
    f = tflow.tflow(resp=True)
    f.server_conn.peername = ("223.5.5.5", 443)
    f.server_conn.certificate_list = [leaf]
    a = Attribution(locator)
    with taddons.context(a):
        a.response(f)
    d = state.destination(f)
    assert d is not None
    tls = [e for e in d.evidence if e["kind"] == "tls"]
    assert tls == [
        {"kind": "tls", "subject_org": "Example OEM Co", "issuer_org": "Example Trust Services"}
    ]


def test_flows_to_one_server_share_its_stored_form_but_readers_get_copies() -> None:
    a = Attribution(Locator.from_paths())
    flows = []
    for _ in range(4):
        f = tflow.tflow(resp=True)
        f.request.host = "tsp.example-oem.cn"
        f.server_conn.peername = ("223.5.5.5", 443)
        f.server_conn.sni = "tsp.example-oem.cn"
        with taddons.context(a):
            a.response(f)
        flows.append(f)
    stored = [f.metadata[state.DEST_KEY] for f in flows]
    assert all(s == stored[0] for s in stored)
    # The locator keeps a destination from its second sighting on: later flows share its form.
    assert stored[3] is stored[2] and stored[1] is not stored[0]
    d = state.destination(flows[3])
    assert d is not None and d.country == "CN"
    d.evidence[0]["name"] = "changed by a reader"
    copy = flows[2].copy()
    copy.metadata[state.DEST_KEY]["host"] = "changed in a copy"
    again = state.destination(flows[2])
    assert again is not None and again.host == "tsp.example-oem.cn"
    assert again.evidence[0]["name"] == "tsp.example-oem.cn"
