"""The addon list, driven by mitmproxy's own addon manager with test flows."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from mitmproxy import eventsequence, http, tcp, websocket
from mitmproxy.test import taddons, tflow

from shekara.audit.model import Category, Verdict
from tests.addons.conftest import Pipeline

VIN = "LSVAU218XN2183294"
IMEI = "356938035643809"


def _decoding(pipe: Pipeline) -> object:
    """The addon that declares the decoding options: the guarded stages hold Decoding."""
    from shekara.addons.decoding import Decoding
    from shekara.addons.guard import Stages

    for a in pipe.addons:
        inner = [g.stage for g in a.stages] if isinstance(a, Stages) else [a]
        if any(isinstance(s, Decoding) for s in inner):
            return a
    raise AssertionError("no decoding stage in the pipeline")


def run(pipe: Pipeline, *flows: object, **options: object) -> None:
    with taddons.context(*pipe.addons) as tctx:
        if options:
            tctx.configure(_decoding(pipe), **options)
        for f in flows:
            for event in eventsequence.iterate(f):  # type: ignore[arg-type]
                tctx.master.addons.trigger(event)


def http_flow(
    ip: str, host: str, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/report"
) -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.request.host = host
    f.request.path = path
    f.request.method = "POST"
    f.request.headers.clear()
    for k, v in (headers or {"content-type": "application/json"}).items():
        f.request.headers[k] = v
    f.request.raw_content = body
    f.server_conn.address = (host, 443)
    f.server_conn.peername = (ip, 443)
    f.server_conn.sni = host
    return f


def summary(pipe: Pipeline) -> set[tuple[str, str, str | None, bool]]:
    return {
        (
            s.finding.category.value,
            s.finding.field,
            s.finding.destination.country,
            s.finding.violation,
        )
        for s in pipe.findings()
    }


def test_json_to_china_is_cross_border(pipe: Pipeline) -> None:
    body = json.dumps({"vehicle": {"vin": VIN}, "gps": {"lat": 43.238949, "lng": 76.889709}})
    f = http_flow("223.5.5.5", "tsp.example-oem.cn", body.encode())
    run(pipe, f)
    assert summary(pipe) == {
        ("vin", "request.body:$.vehicle.vin", "CN", True),
        ("location", "request.body:$.gps.lat", "CN", True),
    }
    stored = {s.finding.category: s.finding for s in pipe.findings()}
    assert stored[Category.VIN].rule_id == "KZ-XB-001"
    assert stored[Category.LOCATION].rule_id == "KZ-XB-LOC"
    assert stored[Category.VIN].flow_id == f.id
    assert stored[Category.VIN].verdict is Verdict.CROSS_BORDER
    assert "shekara.analysis" not in f.metadata  # nothing left on the flow to be saved


def test_gzip_form_query_and_header_to_kazakhstan(pipe: Pipeline) -> None:
    form = f"imei={IMEI}&phone=%2B77012345678".encode()
    f = http_flow(
        "95.56.0.1",
        "telematics.example.kz",
        gzip.compress(form),
        {
            "content-type": "application/x-www-form-urlencoded",
            "content-encoding": "gzip",
            "x-vin": VIN,
        },
        path="/track?lat=43.2389&lon=76.8897",
    )
    run(pipe, f)
    assert summary(pipe) == {
        ("imei", "request.form:imei", "KZ", False),
        ("phone", "request.form:phone", "KZ", False),
        ("vin", "request.header:x-vin", "KZ", False),
        ("location", "request.query:lat", "KZ", False),
    }
    assert {s.finding.rule_id for s in pipe.findings()} == {"KZ-DOM-001"}


def test_private_destination_is_unknown(pipe: Pipeline) -> None:
    f = http_flow("192.168.1.10", "gw.local", json.dumps({"vin": VIN}).encode())
    run(pipe, f)
    [s] = pipe.findings()
    assert s.finding.verdict is Verdict.UNKNOWN and not s.finding.violation
    assert s.finding.rule_id == "KZ-UNK-001"


def test_response_data_is_not_a_transfer_out(pipe: Pipeline) -> None:
    f = http_flow("223.5.5.5", "tsp.example-oem.cn", b"{}")
    assert f.response is not None
    f.response.headers["content-type"] = "application/json"
    f.response.content = json.dumps({"vin": VIN}).encode()
    run(pipe, f)
    assert pipe.findings() == []


def test_malformed_json_and_broken_gzip_are_noted(pipe: Pipeline) -> None:
    bad_json = http_flow("223.5.5.5", "a.example.cn", b'{"vin": "LSVAU218XN2183294",')
    bad_gzip = http_flow(
        "223.5.5.5",
        "b.example.cn",
        b"\x1f\x8b\x08\x00garbage",
        {"content-type": "application/json", "content-encoding": "gzip"},
    )
    run(pipe, bad_json, bad_gzip)
    notes = {(n.note.flow_id, n.note.source) for n in pipe.notes()}
    assert notes == {(bad_json.id, "request.body"), (bad_gzip.id, "request.body")}
    assert all("undecodable" in n.note.reason for n in pipe.notes())
    assert pipe.findings() == []


def test_gzip_bomb_is_noted_not_inflated(pipe: Pipeline) -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    bomb = b"".join(c.compress(chunk) for _ in range(64)) + c.flush()  # 64 MiB inflated
    f = http_flow(
        "223.5.5.5",
        "bomb.example.cn",
        bomb,
        {"content-type": "application/json", "content-encoding": "gzip"},
    )
    run(pipe, f, shekara_body_limit=1 << 20)
    [n] = pipe.notes()
    assert "beyond" in n.note.reason
    assert n.note.destination is not None and n.note.destination.host == "bomb.example.cn"


def test_websocket_client_messages(pipe: Pipeline) -> None:
    f = tflow.twebsocketflow()
    f.server_conn.peername = ("88.198.0.1", 443)
    f.server_conn.address = ("maps.example.de", 443)
    f.request.host = "maps.example.de"
    assert f.websocket is not None
    f.websocket.messages = [
        websocket.WebSocketMessage(1, True, json.dumps({"imei": IMEI}).encode()),
        websocket.WebSocketMessage(1, False, json.dumps({"vin": VIN}).encode()),
        websocket.WebSocketMessage(2, True, json.dumps({"pos": "43.238949,76.889709"}).encode()),
    ]
    run(pipe, f)
    assert summary(pipe) == {
        ("imei", "websocket.message[0]:$.imei", "DE", True),
        ("location", "websocket.message[2]:$.pos", "DE", True),
    }


def _mqtt_string(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def _packet(first: int, body: bytes) -> bytes:
    n, out = len(body), bytearray([first])
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + body


def test_mqtt_over_raw_tcp(pipe: Pipeline) -> None:
    connect = _packet(
        0x10,
        _mqtt_string("MQTT")
        + bytes([4, 0xC2, 0, 60])
        + _mqtt_string(f"tbox-{IMEI}")
        + _mqtt_string("owner@example.kz")
        + _mqtt_string("secret"),
    )
    topic = f"vehicle/{VIN}/telemetry"
    publish = _packet(
        0x30,
        _mqtt_string(topic) + json.dumps({"gnss": {"lat": 43.238949, "lon": 76.889709}}).encode(),
    )
    f = tflow.ttcpflow()
    f.server_conn.peername = ("114.114.114.114", 1883)
    f.server_conn.address = ("mqtt.example-oem.cn", 1883)
    f.server_conn.sni = None
    # The PUBLISH is split across two TCP messages; reassembly must join it.
    f.messages = [
        tcp.TCPMessage(True, connect + publish[:7]),
        tcp.TCPMessage(False, b"\x20\x02\x00\x00"),
        tcp.TCPMessage(True, publish[7:]),
    ]
    run(pipe, f)
    # The VIN in the topic is masked wherever the topic appears in a locator.
    masked = "mqtt.publish[vehicle/LSV************94/telemetry]"
    assert summary(pipe) == {
        ("email", "mqtt.connect:username", "CN", True),
        ("imei", "mqtt.connect:client_id", "CN", True),
        ("credentials", "mqtt.connect:password_present", "CN", True),
        ("vin", f"{masked}:topic[1]", "CN", True),
        ("location", f"{masked}:$.gnss.lat", "CN", True),
    }
    assert all(s.finding.destination.host == "mqtt.example-oem.cn" for s in pipe.findings())


def test_unrecognised_tcp_is_noted(pipe: Pipeline) -> None:
    f = tflow.ttcpflow()
    f.server_conn.peername = ("114.114.114.114", 9000)
    noise = bytes((i * 151 + 7) % 256 for i in range(600))
    f.messages = [tcp.TCPMessage(True, noise[:300]), tcp.TCPMessage(True, noise[300:])]
    run(pipe, f)
    [n] = pipe.notes()
    assert "unrecognised protocol" in n.note.reason and "600 bytes" in n.note.reason
    assert "likely encrypted or compressed" in n.note.reason


def test_decoder_crash_fails_open_and_is_recorded(pipe: Pipeline, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An internal error is recorded as a note; the flow itself is left untouched."""
    import shekara.addons.decoding as decoding

    def boom(*a: object, **k: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(decoding, "decode_body", boom)
    f = http_flow("223.5.5.5", "x.example.cn", json.dumps({"vin": VIN}).encode())
    before = f.request.raw_content
    run(pipe, f)
    assert f.request.raw_content == before and f.response is not None
    [n] = pipe.notes()
    assert "RuntimeError: boom" in n.note.reason


def test_analysed_flows_stay_serialisable(pipe: Pipeline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Raw evidence is written by mitmproxy's own FlowWriter: our metadata must not break it."""
    from mitmproxy import io

    ws = tflow.twebsocketflow()
    ws.server_conn.peername = ("88.198.0.1", 443)
    tcpf = tflow.ttcpflow()
    tcpf.server_conn.peername = ("114.114.114.114", 1883)
    f = http_flow("223.5.5.5", "x.example.cn", json.dumps({"vin": VIN}).encode())
    with taddons.context(*pipe.addons) as tctx:
        for fl in (ws, tcpf, f):
            for event in eventsequence.iterate(fl):
                tctx.master.addons.trigger(event)
                with (tmp_path / "out.mitm").open("ab") as fh:
                    io.FlowWriter(fh).add(fl)  # after every event, as a saver might
    with (tmp_path / "out.mitm").open("rb") as fh:
        back = list(io.FlowReader(fh).stream())
    assert back and all(VIN not in json.dumps(b.metadata) for b in back)
    saved = [b for b in back if b.id == f.id][-1]
    assert saved.metadata["shekara.destination"]["country"] == "CN"


def test_gt06_tracker_and_a_command_from_abroad(pipe: Pipeline) -> None:
    """Raw TCP telematics: identified by its bytes, both directions decoded."""
    from tests.audit.decoders.test_gt06 import command

    login = bytes.fromhex("78780D01086471700328358100093F040D0A")  # traccar's real frame
    position = bytes.fromhex(
        "78781f120f0a140e150bc505e51e780293a9e800540000f601006e0055da00035f240d0a"
    )
    f = tflow.ttcpflow()
    f.server_conn.peername = ("114.114.114.114", 5023)
    f.server_conn.address = ("gps.example-tracker.cn", 5023)
    f.server_conn.sni = None
    f.messages = [
        tcp.TCPMessage(True, login[:5]),  # a first segment too short to recognise
        tcp.TCPMessage(True, login[5:] + position),
        tcp.TCPMessage(False, command("RELAY,1#")),
    ]
    run(pipe, f)
    got = {(s.finding.category.value, s.finding.field, s.finding.rule_id) for s in pipe.findings()}
    assert got == {
        ("imei", "gt06.login:$.imei", "KZ-XB-001"),
        ("location", "gt06.location:$.position.lat", "KZ-XB-LOC"),
        ("cell_location", "gt06.location:$.cell", "KZ-XB-COMMS"),
        ("remote_control", "gt06.down.command:$.command", "KZ-RC-001"),
    }
    rc = next(s.finding for s in pipe.findings() if s.finding.rule_id == "KZ-RC-001")
    assert rc.preview == "relay (cut fuel/power)" and rc.destination.country == "CN"
    assert rc.violation and rc.severity == "high"


def test_protobuf_with_an_operator_schema(pipe: Pipeline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """shekara_proto: field names from the operator's .proto reach the locators."""
    from tests.audit.decoders.pbwire import f64, ld

    proto = tmp_path / "tsp.proto"
    proto.write_text(
        'syntax = "proto3"; package tsp;\n'
        "message Gnss { double latitude = 1; double longitude = 2; }\n"
        "message Report { string vin = 1; Gnss gnss = 2; }\n"
    )
    body = ld(1, VIN) + ld(2, f64(1, 43.238949) + f64(2, 76.889709))
    f = http_flow(
        "223.5.5.5", "tsp.example-oem.cn", body, {"content-type": "application/x-protobuf"}
    )
    run(pipe, f, shekara_proto=[str(proto)])
    assert summary(pipe) == {
        ("vin", "request.body:$.vin", "CN", True),
        ("location", "request.body:$.gnss.latitude", "CN", True),
    }


def test_bad_proto_file_is_an_option_error(pipe: Pipeline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mitmproxy.exceptions import OptionsError

    bad = tmp_path / "bad.proto"
    bad.write_text("message {")
    with taddons.context(*pipe.addons) as tctx, pytest.raises(OptionsError, match=r"bad\.proto"):
        tctx.configure(_decoding(pipe), shekara_proto=[str(bad)])


def test_mqtt_command_from_a_broker_abroad(pipe: Pipeline) -> None:
    """Server-to-client MQTT: a PUBLISH on a command topic is remote control from abroad."""
    connect = _packet(0x10, _mqtt_string("MQTT") + bytes([4, 0x02, 0, 60]) + _mqtt_string("c1"))
    topic = f"vehicle/{VIN}/cmd"
    subscribe = _packet(0x82, b"\x00\x01" + _mqtt_string(topic) + b"\x01")
    command = _packet(0x32, _mqtt_string(topic) + b"\x00\x05" + b'{"cmd": "engine_stop"}')
    f = tflow.ttcpflow()
    f.server_conn.peername = ("114.114.114.114", 1883)
    f.server_conn.address = ("mqtt.example-oem.cn", 1883)
    f.server_conn.sni = None
    f.messages = [
        tcp.TCPMessage(True, connect + subscribe),
        tcp.TCPMessage(False, b"\x20\x02\x00\x00" + b"\x90\x03\x00\x01\x01" + command[:9]),
        tcp.TCPMessage(False, command[9:]),
    ]
    run(pipe, f)
    got = {(s.finding.category.value, s.finding.field, s.finding.rule_id) for s in pipe.findings()}
    masked = "vehicle/LSV************94/cmd"
    assert ("vin", "mqtt.subscribe:topic", "KZ-XB-001") in got
    assert ("remote_control", f"mqtt.down.publish[{masked}]:$.command", "KZ-RC-001") in got
    rc = next(s.finding for s in pipe.findings() if s.finding.rule_id == "KZ-RC-001")
    assert rc.preview == "engine_stop" and rc.destination.country == "CN" and rc.violation


def test_ota_instruction_in_a_response_from_abroad(pipe: Pipeline) -> None:
    """The head unit asks; the foreign server's answer tells it to install new firmware."""
    f = http_flow(
        "223.5.5.5", "fota.example-oem.cn", json.dumps({"vin": VIN}).encode(), path="/ota/check"
    )
    assert f.response is not None
    f.response.headers["content-type"] = "application/json"
    f.response.content = json.dumps(
        {"update": {"firmware_url": "https://fota.example-oem.cn/hu/4.1.bin", "version": "4.1"}}
    ).encode()
    run(pipe, f)
    assert summary(pipe) == {
        ("vin", "request.body:$.vin", "CN", True),
        ("remote_control", "http.down.response:$.command", "CN", True),
    }
    rc = next(s.finding for s in pipe.findings() if s.finding.category.value == "remote_control")
    assert rc.rule_id == "KZ-RC-001" and rc.preview == "over-the-air update"


def test_names_from_the_device_dns_reach_the_stored_destination(pipe: Pipeline) -> None:
    """naming → attribution → … → recording: the destinations table keeps the evidence."""
    import ipaddress

    from mitmproxy import dns

    answer = tflow.tdnsflow(resp=True)
    assert answer.response is not None
    answer.response.answers = [
        dns.ResourceRecord.CNAME("tsp.example-oem.cn", "tsp.example-oem.cn.gslb.example"),
        dns.ResourceRecord.A("tsp.example-oem.cn.gslb.example", ipaddress.IPv4Address("223.5.5.5")),
    ]
    body = json.dumps({"vehicle": {"vin": VIN}})
    f = http_flow("223.5.5.5", "tsp.example-oem.cn", body.encode())
    run(pipe, answer, f)
    assert {s.finding.verdict for s in pipe.findings()} == {Verdict.CROSS_BORDER}
    (dest,) = pipe.store.query_destinations(run_id=pipe.run_id)
    assert (dest.host, dest.ip, dest.country, dest.verdict) == (
        "tsp.example-oem.cn",
        "223.5.5.5",
        "CN",
        Verdict.CROSS_BORDER,
    )
    assert str(dest.confidence) == "medium"
    assert [s["source"] for s in dest.sources] == ["GeoLite2-City (embedded)"]
    names = {e["name"]: e for e in dest.evidence if e["kind"] == "name"}
    assert names["tsp.example-oem.cn.gslb.example"]["how"] == "device-dns"
    assert names["tsp.example-oem.cn"]["chain"] == [
        "tsp.example-oem.cn",
        "tsp.example-oem.cn.gslb.example",
    ]
