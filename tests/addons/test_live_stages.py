"""The live proxy's stages on real mitmproxy flows: known values, DNS, passthrough, traffic."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from mitmproxy import eventsequence, tcp, tls
from mitmproxy.proxy import context
from mitmproxy.test import taddons, tflow

from shekara.addons import Stages, pipeline
from shekara.addons.passthrough import (
    CLIENT_REJECTED,
    OPERATOR_LIST,
    Passthrough,
    operator_pattern,
)
from shekara.audit.drivetrack import DriveTrack
from shekara.audit.knownvalues import KnownValues
from shekara.audit.model import Category
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.evidence.connections import UNDETERMINED
from shekara.evidence.store import FindingStore
from shekara.evidence.writer import StoreWriter
from shekara.geo.locate import Locator
from shekara.rulesets.loader import load_ruleset
from tests.addons.test_pipeline import http_flow

VIN, IMEI, PHONE = "LSVAU218XN2183294", "356938035643809", "+77012345678"
DATA = Path(__file__).parent.parent / "data" / "tls"


class Live:
    def __init__(
        self,
        tmp_path: Path,
        locator: Locator,
        known: KnownValues | None,
        track: DriveTrack | None = None,
    ) -> None:
        self.store = FindingStore(f"sqlite:///{tmp_path / 'live.db'}")
        self.store.create_schema()
        self.run_id = self.store.start_run("proxy")
        self.writer = StoreWriter(self.store, max_delay=0.05)
        judge = Judge(load_ruleset(), Redactor(b"k" * 32))
        self.addons = pipeline(
            locator, judge, self.writer, self.run_id, (), True, known, track=track
        )

    def stage(self, name: str) -> object:
        stages = self.addons[0]
        assert isinstance(stages, Stages)
        return stages.get(name)

    def run(self, *flows: object, **options: object) -> None:
        with taddons.context(*self.addons) as tctx:
            if options:
                tctx.configure(self.stage("passthrough"), **options)
            for f in flows:
                for event in eventsequence.iterate(f):  # type: ignore[arg-type]
                    tctx.master.addons.trigger(event)
            self.options = tctx.options
        assert self.writer.flush(10)


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_paths()


def test_known_values_in_sha256_base64_and_bcd_are_marked(tmp_path: Path, locator: Locator) -> None:
    known = KnownValues({Category.VIN: [VIN], Category.IMEI: [IMEI], Category.PHONE: [PHONE]})
    live = Live(tmp_path, locator, known)
    body = {
        "d": hashlib.sha256(VIN.encode()).hexdigest(),
        "u": base64.b64encode(IMEI.encode()).decode(),
        "m": "77012345678F",
    }
    live.run(http_flow("223.5.5.5", "t.example.cn", json.dumps(body).encode()))
    found = {s.finding.category: s.finding for s in live.store.query_findings(run_id=live.run_id)}
    assert set(found) == {Category.VIN, Category.IMEI, Category.PHONE}
    for f in found.values():
        assert f.detector.startswith("known-value") and f.destination.country == "CN"
        assert f.violation
    assert "(sha256)" in found[Category.VIN].detector
    assert "(base64)" in found[Category.IMEI].detector
    assert "(bcd)" in found[Category.PHONE].detector
    # One identifier, one keyed hash, whichever encoding carried it.
    (tmp_path / "p").mkdir()
    plain = Live(tmp_path / "p", locator, known)
    plain.run(http_flow("223.5.5.5", "t.example.cn", json.dumps({"vin": VIN}).encode()))
    [again] = plain.store.query_findings(run_id=plain.run_id)
    assert again.finding.value_hash == found[Category.VIN].value_hash
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("live.db*"))
    assert VIN.encode() not in raw and IMEI.encode() not in raw


def test_positions_on_the_drive_track_in_microdegrees(tmp_path: Path, locator: Locator) -> None:
    live = Live(tmp_path, locator, None, DriveTrack([(43.2389, 76.8897), (43.2301, 76.9102)]))
    body = {"seq": 12, "pt": {"a": 43230150, "b": 76910220}, "spd": 54}
    live.run(http_flow("223.5.5.5", "t.example.cn", json.dumps(body).encode()))
    [s] = live.store.query_findings(run_id=live.run_id)
    assert s.finding.category is Category.LOCATION and s.finding.destination.country == "CN"
    assert s.finding.field == "request.body:$.pt.a"
    assert s.finding.detector.startswith("known-value (drive track, microdegrees")
    assert s.finding.preview == "43.2,76.9"


def test_dns_flows_pass_through_every_stage(tmp_path: Path, locator: Locator) -> None:
    live = Live(tmp_path, locator, None)
    f = tflow.tdnsflow(resp=True)
    answer = f.response.packed if f.response else b""
    live.run(f)
    stages = live.addons[0]
    assert isinstance(stages, Stages)
    failures = stages.failures
    assert failures.total == 0
    assert f.response is not None and f.response.packed == answer and f.error is None
    assert f.metadata["shekara.run"] == live.run_id


def passthrough_flow(first: bytes) -> tcp.TCPFlow:
    f = tflow.ttcpflow(messages=False)
    f.server_conn.address = ("47.95.12.40", 443)
    f.server_conn.peername = ("47.95.12.40", 443)
    f.messages = [
        tcp.TCPMessage(True, first),
        tcp.TCPMessage(False, b"\x16\x03\x03" + b"s" * 4000),
        tcp.TCPMessage(True, b"\x17\x03\x03" + b"c" * 600),
    ]
    return f


def test_passed_through_tls_is_undetermined_content(tmp_path: Path, locator: Locator) -> None:
    live = Live(tmp_path, locator, None)
    hello = bytes.fromhex((DATA / "firefox_tls13.hex").read_text().replace("\n", ""))
    f = passthrough_flow(hello)
    live.run(f, shekara_passthrough=[r"mozilla\.com"])
    assert live.options.ignore_hosts == [r"(?:mozilla\.com)[^:]*:\d+$"]
    assert live.options.show_ignored_hosts
    [c] = live.store.query_connections(live.run_id, content=UNDETERMINED)
    assert c.sni == "contile.services.mozilla.com" and c.country == "CN"
    assert (c.bytes_up, c.bytes_down) == (len(hello) + 603, 4003)
    assert c.ja4 == "t13d1715h2_5b57614c22b0_3d5424432f57" and c.alpn == "h2,http/1.1"
    assert c.reason == OPERATOR_LIST
    [s] = live.store.query_findings(run_id=live.run_id)
    assert s.finding.category is Category.UNDETERMINED_CONTENT
    assert s.finding.rule_id == "KZ-XB-UND" and s.finding.violation
    assert f"{c.bytes_up} B up, {c.bytes_down} B down" in s.finding.preview
    assert len(f.messages) == 1  # counted, then dropped: constant memory


def test_plain_tcp_is_read_not_undetermined(tmp_path: Path, locator: Locator) -> None:
    live = Live(tmp_path, locator, None)
    f = passthrough_flow(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
    live.run(f)
    [c] = live.store.query_connections(live.run_id)
    assert c.content == "read" and c.ja4 is None
    assert not [
        s
        for s in live.store.query_findings(run_id=live.run_id)
        if s.finding.category is Category.UNDETERMINED_CONTENT
    ]


def test_udp_associations_are_counted(tmp_path: Path, locator: Locator) -> None:
    live = Live(tmp_path, locator, None)
    f = tflow.tudpflow()
    f.server_conn.address = f.server_conn.peername = ("3.120.33.7", 12050)
    sizes = [(m.from_client, len(m.content)) for m in f.messages]
    live.run(f)
    [c] = live.store.query_connections(live.run_id)
    assert (c.transport, c.content, c.country) == ("udp", "read", "DE")
    assert c.bytes_up == sum(n for up, n in sizes if up)
    assert c.bytes_down == sum(n for up, n in sizes if not up)


def test_failures_switch_to_passthrough_unless_always_intercepted(
    tmp_path: Path, locator: Locator
) -> None:
    live = Live(tmp_path, locator, None)
    stage = live.stage("passthrough")
    assert isinstance(stage, Passthrough)
    with taddons.context(*live.addons) as tctx:
        tctx.configure(stage, shekara_intercept=[r"^keep\.example$"])
        for sni in ("pinned.example.cn", "keep.example"):
            data = tflow.tclient_conn()
            data.sni = sni
            ctx = context.Context(data, tctx.options)
            ctx.server.address = ("47.95.12.40", 443)
            tls_data = tls.TlsData(data, ctx)
            data.error = "tlsv1 alert unknown ca"
            stage.tls_failed_client(tls_data)
        assert stage.learned == {"pinned.example.cn": CLIENT_REJECTED}
        assert tctx.options.ignore_hosts == [r"^pinned\.example\.cn:\d+$"]
    assert live.writer.flush(10)
    reasons = [n.note.reason for n in live.store.query_notes(run_id=live.run_id)]
    assert any("pinned.example.cn" in r and "passed through from now on" in r for r in reasons)
    assert any("keep.example" in r and "kept intercepted" in r for r in reasons)


@pytest.mark.parametrize(
    "pattern, host, matches",
    [
        (r"^api\.example\.cn$", "api.example.cn:443", True),
        (r"^api\.example\.cn$", "api.example.cn.evil:443", False),
        (r"example\.cn", "telematics.example.cn:8883", True),
        (r"example\.cn", "example.com:443", False),
        (r"^47\.95\.12\.40$", "47.95.12.40:443", True),
        (r"443", "host.example:443", False),
    ],
)
def test_operator_patterns_match_names_not_ports(pattern: str, host: str, matches: bool) -> None:
    import re

    assert bool(re.search(operator_pattern(pattern), host, re.IGNORECASE)) is matches
