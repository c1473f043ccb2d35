"""The car of the end-to-end test: real clients, run inside the car namespace.

argv: mitmproxy CA (trusted by the head unit), bench CA (the only one the pinned
client trusts), the telematics unit's client certificate and key. Prints one
JSON object: what each client got.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "captures"))
from samplegen import gt06, mqtt

VIN = "LSVAU218XN2183294"
IMEI = "356938035643809"
PHONE = "+77012345678"

mitm_ca, bench_ca, client_cert, client_key = sys.argv[1:5]
results: dict[str, object] = {}

# 0. The head unit resolves its servers through the gateway (the proxy's DNS mode).
results["dns"] = {
    name: sorted({a[4][0] for a in socket.getaddrinfo(name, 443, socket.AF_INET)})
    for name in ("api.cn.example", "pinned.cn.example", "api.kz.example", "mtls.de.example")
}

# 1. HTTPS + JSON from a head unit that trusts the interception CA.
trusting = ssl.create_default_context(cafile=mitm_ca)
with httpx.Client(verify=trusting, timeout=10) as client:
    r = client.post(
        "https://api.cn.example/api/v1/telemetry",
        json={"vehicle": {"vin": VIN}, "gnss": {"lat": 43.238949, "lon": 76.889709}},
    )
    results["https_cn"] = [r.status_code, r.json()]
    r = client.post("https://api.kz.example/ingest", json={"vin": VIN, "soc": 76.5})
    results["https_kz"] = [r.status_code, r.json()]

# 2. A pinning client: it trusts only its vendor's CA, so the first attempt through the
#    proxy fails; it retries, as devices do.
pinned = ssl.create_default_context(cafile=bench_ca)
attempts: list[str] = []
for _ in range(5):
    try:
        with httpx.Client(verify=pinned, timeout=10) as client:
            r = client.post("https://pinned.cn.example:8443/v2/report", json={"vin": VIN})
        attempts.append(f"{r.status_code}")
        break
    except httpx.HTTPError as e:
        attempts.append(f"failed: {type(e).__name__}")
        time.sleep(0.5)
results["pinned"] = attempts

# 3. A telematics unit with its own client certificate, trusting the interception CA: the
#    server refuses the proxy (no client certificate); the unit's retry passes through.
mutual = ssl.create_default_context(cafile=mitm_ca)
mutual.load_verify_locations(bench_ca)
mutual.load_cert_chain(client_cert, client_key)
attempts = []
for _ in range(5):
    try:
        with httpx.Client(verify=mutual, timeout=10) as client:
            r = client.post("https://mtls.de.example:8883/ingest", json={"imei": IMEI})
        attempts.append(f"{r.status_code}")
        if r.status_code == 200:
            break
    except httpx.HTTPError as e:
        attempts.append(f"failed: {type(e).__name__}")
    time.sleep(0.5)
results["mtls"] = attempts


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


# 4. MQTT over TCP to a broker in Germany.
with socket.create_connection(("3.120.33.7", 1883), timeout=10) as s:
    s.sendall(mqtt.connect(f"tcu-{IMEI}"))
    connack = recv_exact(s, 4)
    payload = json.dumps({"owner_phone": PHONE, "lat": 43.238949, "lon": 76.889709}).encode()
    s.sendall(mqtt.publish("vehicle/telemetry", payload, qos=1, packet_id=7))
    puback = recv_exact(s, 4)
    s.sendall(mqtt.disconnect())
results["mqtt"] = [connack.hex(), puback.hex()]

# 5. A GT06 tracker's login message (IMEI) over raw TCP to a server in Kazakhstan.
with socket.create_connection(("2.132.7.10", 5023), timeout=10) as s:
    s.sendall(gt06.login(IMEI))
    results["gt06"] = recv_exact(s, 10).hex()

print(json.dumps(results))
