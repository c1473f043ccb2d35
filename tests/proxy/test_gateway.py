"""End to end through the audit Wi-Fi in miniature: car → gateway (nftables) → internet.

The car's real clients (HTTPS+JSON trusting the interception CA, a client
pinning its vendor's CA, a telematics unit whose server demands its client
certificate, MQTT, a GT06 tracker) reach servers on addresses the
embedded GeoIP database places in China, Germany and Kazakhstan, through
``shekara proxy --mode transparent`` on the gateway, within a test session.
"""

from __future__ import annotations

import datetime
import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shekara.audit.model import Category
from shekara.evidence.connections import UNDETERMINED
from shekara.evidence.pcapng import read_blocks
from shekara.evidence.store import FindingStore
from shekara.geo.locate import Locator
from tests.proxy.netns import Gateway, gateway

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(300)]

HERE = Path(__file__).parent
SHEKARA = str(Path(sys.executable).with_name("shekara"))
CN, DE, KZ = "47.95.12.40", "3.120.33.7", "2.132.7.10"
HOSTS = {
    "api.cn.example": CN,
    "pinned.cn.example": CN,
    "api.kz.example": KZ,
    "mtls.de.example": DE,
}
VIN, IMEI, PHONE = "LSVAU218XN2183294", "356938035643809", "+77012345678"
PROXY_PORT = 8080
DNS_PORT = 5353


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_bench_pki(folder: Path) -> dict[str, tuple[Path, Path]]:
    """A vendor CA and one server certificate per host name, as files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Bench Vendor CA"))
        .issuer_name(_name("Bench Vendor CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out = {}
    for host in HOSTS:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_file, key_file = folder / f"{host}.pem", folder / f"{host}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[host] = (cert_file, key_file)
    # The telematics unit's own certificate, for the server that demands one.
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"tcu-{IMEI}"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "client.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "client.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


def wait_listening(ns: str, port: int, timeout: float = 30) -> None:
    probe = (
        "import socket,sys\n"
        "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()\n"
        "except OSError: sys.exit(1)\n"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", probe, str(port)],
            capture_output=True,
        )
        if ok.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"nothing listens on port {port} in {ns}")


def test_public_addresses_are_where_the_test_says() -> None:
    locator = Locator.from_paths([])
    try:
        for ip, country in ((CN, "CN"), (DE, "DE"), (KZ, "KZ")):
            assert locator.locate(None, ip, 443, None).country == country
    finally:
        locator.close()


def test_car_through_the_audit_gateway(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'audit.db'}"
    home = tmp_path / "home"
    env = {"SHEKARA_HOME": str(home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    pki = make_bench_pki(tmp_path)
    started = subprocess.run(
        [
            *(SHEKARA, "session", "start", "--db", db_url, "--vin", VIN, "--make", "Chery"),
            *("--model", "Tiggo 8", "--firmware", "TBOX 2.4.1", "--scenario", "idle, drive"),
            *("--imei", IMEI, "--phone", PHONE),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    session_run = int(started.stdout.strip())

    plan = {
        "https": [
            [CN, 443, *map(str, pki["api.cn.example"])],
            [CN, 8443, *map(str, pki["pinned.cn.example"])],
            [KZ, 443, *map(str, pki["api.kz.example"])],
            [DE, 8883, *map(str, pki["mtls.de.example"]), str(tmp_path / "ca.pem")],
        ],
        "mqtt": [[DE, 1883]],
        "gt06": [[KZ, 5023]],
    }
    leases = tmp_path / "audit.leases"
    with gateway([CN, DE, KZ], HOSTS, PROXY_PORT, DNS_PORT) as g:
        # What dnsmasq on the audit Wi-Fi would have written for the car's unit.
        leases.write_text(f"1795000000 02:5e:4b:00:00:01 {g.car_ip} tbox-7421 *\n")
        servers = subprocess.Popen(
            ["ip", "netns", "exec", g.internet, sys.executable, str(HERE / "internet_servers.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert servers.stdin is not None and servers.stdout is not None
        servers.stdin.write(json.dumps(plan))
        servers.stdin.close()
        proxy = subprocess.Popen(
            [
                *("ip", "netns", "exec", g.gateway, SHEKARA, "proxy", "--mode", "transparent"),
                *("--mode", f"dns@{DNS_PORT}"),
                *("--listen-host", "0.0.0.0", "--listen-port", str(PROXY_PORT)),
                *("--upstream-ca", str(tmp_path / "ca.pem"), "--db", db_url),
                *("--dhcp-leases", str(leases), "--capture"),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert servers.stdout.readline().strip() == "ready"
            wait_listening(g.gateway, PROXY_PORT)
            car = _run_car(g, home, tmp_path)
        finally:
            proxy.send_signal(signal.SIGTERM)
            try:
                _, proxy_err = proxy.communicate(timeout=30)
            finally:
                servers.kill()
                servers.wait()
        (tmp_path / "proxy.log").write_text(proxy_err)
        assert proxy.returncode == 0, proxy_err

    # Names were resolved by the proxy's DNS mode; no stage failed on the DNS flows.
    assert car["dns"] == {name: [ip] for name, ip in HOSTS.items()}
    assert "Addon error" not in proxy_err and "not analysed" not in proxy_err
    # Every client got its answer; the pinned one on its retry, through passthrough.
    assert car["https_cn"] == [200, {"ok": True}]
    assert car["https_kz"] == [200, {"ok": True}]
    assert car["pinned"][0].startswith("failed") and car["pinned"][-1] == "200", car["pinned"]
    assert car["mtls"][0] != "200" and car["mtls"][-1] == "200", car["mtls"]
    assert car["mqtt"] == ["20020000", "40020007"]
    assert car["gt06"] == "787805010001d9dc0d0a"

    stopped = subprocess.run([SHEKARA, "session", "stop"], env=env, capture_output=True, text=True)
    assert stopped.returncode == 0, stopped.stderr
    assert "pinned.cn.example: " in stopped.stderr and "undetermined content" in stopped.stderr

    store = FindingStore(db_url)
    findings = [s.finding for s in store.query_findings(limit=1000)]
    assert {s.run_id for s in store.query_findings(limit=1000)} == {session_run}
    seen = {(f.category, f.destination.country, f.violation) for f in findings}
    assert {
        (Category.VIN, "CN", True),
        (Category.LOCATION, "CN", True),
        (Category.VIN, "KZ", False),
        (Category.PHONE, "DE", True),
        (Category.LOCATION, "DE", True),
        (Category.IMEI, "KZ", False),
        (Category.UNDETERMINED_CONTENT, "CN", True),
        (Category.UNDETERMINED_CONTENT, "DE", True),
    } <= seen, seen
    # The registered identifiers are marked as matched against the vehicle's own data.
    vin_cn = next(
        f for f in findings if f.category is Category.VIN and f.destination.country == "CN"
    )
    assert vin_cn.detector.startswith("known-value")
    # Nothing but the pinned host and the mutual-TLS host is of undetermined content.
    undetermined = {
        f.destination.host: f for f in findings if f.category is Category.UNDETERMINED_CONTENT
    }
    assert set(undetermined) == {"pinned.cn.example", "mtls.de.example"}
    assert undetermined["mtls.de.example"].destination.country == "DE"
    pinned = undetermined["pinned.cn.example"]
    assert pinned.destination.ip == CN and pinned.destination.port == 8443

    passed = {c.sni: c for c in store.query_connections(session_run, content=UNDETERMINED)}
    assert "refused the proxy's TLS" in (passed["mtls.de.example"].reason or "")
    conn = passed["pinned.cn.example"]
    assert conn.sni == "pinned.cn.example" and conn.country == "CN" and conn.port == 8443
    assert conn.bytes_up > 200 and conn.bytes_down > 200  # ClientHello, certificate, HTTP
    assert conn.ja4 is not None and conn.ja4.startswith("t13d")
    assert conn.ja3_md5 is not None and len(conn.ja3_md5) == 32
    assert "rejected the interception certificate" in (conn.reason or "")
    assert conn.ended_at is not None and conn.ended_at >= conn.started_at
    assert f"{conn.bytes_up} B up, {conn.bytes_down} B down" in pinned.preview

    # Every connection is attributed to the device that made it.
    everything = store.query_connections(session_run)
    assert len(everything) >= 6
    assert {(c.client_ip, c.client_mac, c.client_name) for c in everything} == {
        ("10.77.1.2", "02:5e:4b:00:00:01", "tbox-7421")
    }
    whole, per_host = store.coverage(session_run)
    assert 0 < whole.bytes_read < whole.bytes_total
    by_host = {c.host: c for c in per_host}
    assert by_host["pinned.cn.example"].share_read == 0.0
    assert by_host["api.cn.example"].share_read == 1.0
    # The failed handshake itself is on record.
    notes = [n.note for n in store.query_notes(run_id=session_run, limit=100)]
    assert any("pinned.cn.example" in n.reason and n.source == "tls" for n in notes), notes

    # The packet capture beside the proxy, with the TLS keys of what it decrypted.
    capture = home / "evidence" / f"run-{session_run}.pcapng"
    assert stat.S_IMODE(capture.stat().st_mode) == 0o600
    blocks = list(read_blocks(capture))
    [secrets] = [body for kind, body in blocks if kind == 0x0A]
    assert secrets[:4] == b"KSLT" and b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" in secrets
    packets = [body for kind, body in blocks if kind == 6]
    assert len(packets) > 50 and any(bytes(map(int, CN.split("."))) in p for p in packets)
    assert not list((home / "evidence").glob("*.keys")) and not list(
        (home / "evidence").glob("*.pcap")
    )

    run = store.get_run(session_run)
    assert run is not None and run.status == "completed"
    assert VIN.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    assert not (home / "session.json").exists()


def _run_car(g: Gateway, home: Path, tmp_path: Path) -> dict[str, list[object] | str]:
    mitm_ca = home / "mitmproxy" / "mitmproxy-ca-cert.pem"
    client = subprocess.run(
        [
            *("ip", "netns", "exec", g.car, sys.executable, str(HERE / "car_clients.py")),
            *(str(mitm_ca), str(tmp_path / "ca.pem")),
            *(str(tmp_path / "client.pem"), str(tmp_path / "client.key")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert client.returncode == 0, client.stderr
    return json.loads(client.stdout)  # type: ignore[no-any-return]
