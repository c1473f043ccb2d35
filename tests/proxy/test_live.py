"""Real HTTP requests through ``shekara proxy`` to upstream servers in a private namespace.

The upstream servers listen on addresses the embedded database places in
China (223.5.5.5) and Kazakhstan (95.56.0.1), bound to the loopback of a
namespace with no route out: the proxy connects to them for real and
geolocates the peer it actually reached.
"""

from __future__ import annotations

import hashlib
import json
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import io

from shekara.audit.model import Category
from shekara.evidence import schema
from shekara.evidence.rows import row_to_flow
from shekara.evidence.store import FindingStore
from tests.proxy.netns import in_namespace, namespace

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

HERE = Path(__file__).parent
SHEKARA = str(Path(sys.executable).with_name("shekara"))
CN, KZ = "223.5.5.5", "95.56.0.1"
VIN = "LSVAU218XN2183294"
IMEI = "356938035643809"

REQUESTS = [
    {
        "method": "POST",
        "host": CN,
        "path": "/api/v1/telemetry",
        "json": {"vehicle": {"vin": VIN}, "gnss": {"lat": 43.238949, "lon": 76.889709}},
    },
    {
        "method": "POST",
        "host": CN,
        "path": "/api/v1/owner",
        "gzip": True,
        "json": {"owner": {"phone": "+77012345678", "email": "aigerim@example.kz"}},
    },
    {"method": "GET", "host": CN, "path": f"/track?imei={IMEI}&lat=43.2389&lon=76.8897"},
    {
        "method": "POST",
        "host": KZ,
        "path": "/ingest",
        "headers": {"x-vin": VIN},
        "json": {"soc": 76.5, "cabin_temp": 43.2},
    },
]


@pytest.mark.parametrize("keep_flows", [False, True], ids=["findings-only", "keep-flows"])
def test_live_proxy_records_findings(tmp_path: Path, keep_flows: bool) -> None:
    db = tmp_path / "live.db"
    env = {"SHEKARA_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    with namespace([CN, KZ]) as ns:
        upstream = subprocess.Popen(
            in_namespace(ns, [sys.executable, str(HERE / "upstream_server.py"), "8081", CN, KZ]),
            stdout=subprocess.PIPE,
            text=True,
        )
        proxy = subprocess.Popen(
            in_namespace(
                ns,
                [SHEKARA, "proxy", "--listen-port", "18080", "--db", f"sqlite:///{db}"]
                + (["--keep-flows"] if keep_flows else []),
            ),
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
            client = subprocess.run(
                in_namespace(ns, [sys.executable, str(HERE / "live_client.py"), "18080", "8081"]),
                input=json.dumps(REQUESTS),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert client.returncode == 0, client.stderr
            # The car's traffic went through untouched.
            assert client.stdout.splitlines() == ['200 {"ok": true}'] * len(REQUESTS)
        finally:
            proxy.send_signal(signal.SIGTERM)
            try:
                _, proxy_err = proxy.communicate(timeout=30)
            finally:
                upstream.kill()
                upstream.wait()
        assert proxy.returncode == 0, proxy_err

    store = FindingStore(f"sqlite:///{db}")
    found = {
        (s.finding.category, s.finding.field, s.finding.destination.country, s.finding.violation)
        for s in store.query_findings(limit=1000)
    }
    assert found == {
        (Category.VIN, "request.body:$.vehicle.vin", "CN", True),
        (Category.LOCATION, "request.body:$.gnss.lat", "CN", True),
        (Category.PHONE, "request.body:$.owner.phone", "CN", True),
        (Category.EMAIL, "request.body:$.owner.email", "CN", True),
        (Category.IMEI, "request.query:imei", "CN", True),
        (Category.LOCATION, "request.query:lat", "CN", True),
        (Category.VIN, "request.header:x-vin", "KZ", False),
    }
    for s in store.query_findings(limit=1000):
        assert s.finding.destination.ip in (CN, KZ)
        assert s.finding.destination.port == 8081
        assert VIN not in s.finding.preview and VIN not in s.finding.value_hash
    # Each flow is described by the stage replay uses too; the IMEI stays out of its URL.
    with store.engine.connect() as conn:
        metas = [row_to_flow(r) for r in conn.execute(schema.flows.select()).mappings()]
    assert sorted((m.method, m.status) for m in metas) == sorted(
        (r["method"], 200) for r in REQUESTS
    )
    [track] = [m for m in metas if m.url and "/track" in m.url]
    assert track.url is not None and IMEI not in track.url
    assert "imei=356" in track.url and "lat=43.2&lon=76.9" in track.url
    assert all(m.server and m.server.endswith(":8081") for m in metas)

    # Raw evidence exists only when asked for: private, hashed into the signed statement.
    evidence = list((tmp_path / "home" / "evidence").glob("*.mitm"))
    run = store.get_run(1)
    assert run is not None
    with store.engine.connect() as conn:
        row = conn.execute(schema.runs.select().where(schema.runs.c.id == 1)).one()
    if not keep_flows:
        assert evidence == [] and row.raw_evidence_path is None
        assert VIN.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("live.db*"))
        return
    [raw_file] = evidence
    assert stat.S_IMODE(raw_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(raw_file.parent.stat().st_mode) == 0o700
    assert row.raw_evidence_path == str(raw_file)
    assert row.raw_evidence_sha256 == hashlib.sha256(raw_file.read_bytes()).hexdigest()
    assert row.raw_evidence_sha256 in row.closing_statement
    with raw_file.open("rb") as fh:
        flows = list(io.FlowReader(fh).stream())
    assert len(flows) == len(REQUESTS)
    assert VIN.encode() in raw_file.read_bytes()  # the full evidence, as asked
    verify = subprocess.run(
        [SHEKARA, "verify", "--db", f"sqlite:///{db}"], capture_output=True, text=True, env=env
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
