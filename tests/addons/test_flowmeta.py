"""Flow metadata through the real pipeline: HTTP, WebSocket, raw TCP and DNS test flows."""

from __future__ import annotations

import json

from mitmproxy import dns, http, tcp, websocket
from mitmproxy.test import tflow

from shekara.addons.recording import Recording
from shekara.audit.flowmeta import FlowMeta
from tests.addons.conftest import Pipeline
from tests.addons.test_pipeline import IMEI, VIN, http_flow, run


def https_flow(ip: str, host: str, body: bytes, path: str) -> http.HTTPFlow:
    f = http_flow(ip, host, body, path=path)
    f.request.scheme, f.request.port = "https", 443
    return f


def stored(pipe: Pipeline, flow_id: str) -> FlowMeta:
    # Records of flows without findings wait for a batch; the end of the run hands them on.
    [recording] = [a for a in pipe.addons if isinstance(a, Recording)]
    recording.done()
    assert pipe.writer.flush(10)
    meta = pipe.store.get_flow(pipe.run_id, flow_id)
    assert meta is not None, "no flow record"
    return meta


def test_http_request_with_personal_data_and_a_token_in_its_url(pipe: Pipeline) -> None:
    body = json.dumps({"speed": 12}).encode()
    f = https_flow(
        "223.5.5.5",
        "tsp.example-oem.cn",
        body,
        path=f"/v1/cars/{VIN}/report?imei={IMEI}&access_token=t0k3n-abc&lang=ru",
    )
    f.request.timestamp_start, f.request.timestamp_end = 100.0, 100.05
    assert f.response is not None
    f.response.timestamp_end = 100.4
    run(pipe, f)
    meta = stored(pipe, f.id)
    assert (meta.protocol, meta.method, meta.status) == ("https", "POST", 200)
    assert meta.url == (
        "https://tsp.example-oem.cn/v1/cars/LSV************94/report"
        "?imei=356**********09&access_token=***&lang=ru"
    )
    assert meta.request_body_bytes == len(body)
    assert meta.request_bytes is not None and meta.request_bytes > len(body)
    assert meta.response_body_bytes == len(f.response.raw_content or b"")
    assert (meta.started_at, meta.ended_at, meta.duration) == (100.0, 100.4, 0.4)
    assert meta.server == "223.5.5.5:443" and meta.client is not None
    # Its findings and the record join on the flow id.
    assert {s.finding.flow_id for s in pipe.findings()} == {f.id}


def test_a_flow_without_findings_gets_no_row_by_default(pipe: Pipeline) -> None:
    f = https_flow("95.56.0.1", "telematics.example.kz", b'{"ok": true}', path="/v1/ping")
    run(pipe, f)
    assert pipe.findings() == [] and pipe.notes() == []
    [recording] = [a for a in pipe.addons if isinstance(a, Recording)]
    recording.done()
    assert pipe.writer.flush(10)
    assert pipe.store.get_flow(pipe.run_id, f.id) is None
    assert recording.flows == 0


def test_every_flow_is_described_when_asked(pipe: Pipeline) -> None:
    quiet = https_flow("95.56.0.1", "telematics.example.kz", b'{"ok": true}', path="/v1/ping")
    loud = https_flow("47.95.12.40", "t.example.cn", json.dumps({"vin": VIN}).encode(), "/r")
    run(pipe, quiet, loud, shekara_flow_records="all")
    assert stored(pipe, quiet.id).url == "https://telematics.example.kz/v1/ping"
    assert stored(pipe, loud.id).url == "https://t.example.cn/r"


def test_websocket_keeps_the_url_redacted_when_the_hits_of_its_handshake_are_gone(
    pipe: Pipeline,
) -> None:
    f = tflow.twebsocketflow()
    f.request.host = "push.example-oem.cn"
    f.request.path = f"/ws?imei={IMEI}"
    f.server_conn.peername = ("223.5.5.5", 443)
    assert f.websocket is not None
    f.websocket.messages = [
        websocket.WebSocketMessage(1, True, json.dumps({"imei": IMEI}).encode()),
        websocket.WebSocketMessage(1, False, b"ok"),
    ]
    run(pipe, f)
    meta = stored(pipe, f.id)
    assert meta.protocol in ("ws", "wss") and meta.method == "GET"
    assert meta.url is not None and IMEI not in meta.url and "imei=356" in meta.url
    assert (meta.request_body_bytes, meta.response_body_bytes) == (
        len(json.dumps({"imei": IMEI})),
        2,
    )


def test_raw_tcp_is_recorded_with_its_first_findings_and_again_when_it_ends(
    pipe: Pipeline,
) -> None:
    f = tflow.ttcpflow()
    f.server_conn.peername = ("114.114.114.114", 9000)
    f.server_conn.address = ("gps.example.cn", 9000)
    f.server_conn.sni = None
    noise = bytes((i * 151 + 7) % 256 for i in range(5000))
    f.messages = [tcp.TCPMessage(True, noise), tcp.TCPMessage(False, b"x" * 10)]
    f.messages[-1].timestamp = f.messages[0].timestamp + 2
    run(pipe, f)
    meta = stored(pipe, f.id)
    assert (meta.protocol, meta.url, meta.method) == ("tcp", "tcp://gps.example.cn:9000", None)
    assert (meta.request_body_bytes, meta.response_body_bytes) == (5000, 10)
    assert meta.ended_at is not None and meta.started_at is not None
    assert meta.ended_at >= f.messages[-1].timestamp
    assert pipe.notes(), "the unreadable stream is noted and its flow described"


def test_dns_query(pipe: Pipeline) -> None:
    f = tflow.tdnsflow(resp=True)
    f.server_conn.peername = ("10.42.0.1", 53)
    run(pipe, f, shekara_flow_records="all")  # a lookup gives no finding
    meta = stored(pipe, f.id)
    assert (meta.protocol, meta.method, meta.host) == ("dns", "A", "dns.google")
    assert meta.status == dns.response_codes.NOERROR
    assert meta.request_body_bytes == len(f.request.packed)
