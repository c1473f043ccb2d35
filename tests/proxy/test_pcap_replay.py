"""pcap and pcapng captures replay to the same findings as the equivalent mitmproxy capture,
and account for their encrypted connections as the live proxy does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shekara.audit.flowmeta import FlowMeta
from shekara.evidence import schema
from shekara.evidence.rows import row_to_flow
from shekara.evidence.store import FindingStore
from shekara.proxy import pipeline, replay
from tests.proxy import pcapgen
from tests.proxy.inprocess import HOME, Ran


def run_replay(
    path: Path, tmp_path: Path, db: str = "r.db"
) -> tuple[FindingStore, int, replay.ReplayResult]:
    ctx = pipeline.build(
        f"sqlite:///{tmp_path / db}",
        "replay",
        home=HOME["path"],
        connections=replay.keeps_connections(path),
    )
    result = replay.replay(path, ctx.addons, remark=ctx.remark)
    ctx.close(result.flows, "failed" if result.error else "completed", result.error)
    return ctx.store, ctx.run_id, result


def flow_records(store: FindingStore, run_id: int) -> dict[str, FlowMeta]:
    """The run's flow metadata by flow id; every finding's flow must be among them."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.flows).where(schema.flows.c.run_id == run_id)).mappings()
        out = {r["flow_id"]: row_to_flow(r) for r in rows}
    carried = {s.finding.flow_id for s in store.query_findings(run_id=run_id, limit=10_000)}
    assert carried and carried <= set(out), "a finding without its flow's metadata"
    return out


def findings(store: FindingStore, run_id: int) -> set[tuple[object, ...]]:
    """Every finding, without its flow id (the two formats name flows differently)."""
    out: set[tuple[object, ...]] = set()
    for s in store.query_findings(run_id=run_id, limit=10_000):
        f, d = s.finding, s.finding.destination
        out.add(
            (
                f.category.value,
                f.field,
                d.host,
                d.ip,
                d.port,
                d.country,
                f.verdict.value,
                f.violation,
                f.rule_id,
                f.preview,
                f.value_hash,
            )
        )
    return out


def notes(store: FindingStore, run_id: int) -> list[tuple[str, str, str | None]]:
    return [
        (n.note.source, n.note.reason, n.note.destination.country if n.note.destination else None)
        for n in store.query_notes(run_id=run_id, limit=10_000)
    ]


@pytest.fixture(scope="module")
def mitm_findings(
    shared_home: None, tmp_path_factory: pytest.TempPathFactory
) -> set[tuple[object, ...]]:
    tmp = tmp_path_factory.mktemp("mitm")
    capture = pcapgen.write_mitm(tmp / "same.mitm", pcapgen.standard_conversations())
    store, run_id, result = run_replay(capture, tmp)
    assert result.error is None
    return findings(store, run_id)


@pytest.mark.parametrize(
    "ng, v6", [(False, False), (True, False), (False, True)], ids=["pcap", "pcapng", "pcap-ipv6"]
)
def test_packet_capture_gives_the_findings_of_the_mitm_capture(
    ng: bool, v6: bool, mitm_findings: set[tuple[object, ...]], tmp_path: Path
) -> None:
    convs = pcapgen.standard_conversations()
    capture = pcapgen.write_pcap(
        tmp_path / ("c.pcapng" if ng else "c.pcap"), pcapgen.capture_packets(convs, v6=v6), ng=ng
    )
    store, run_id, result = run_replay(capture, tmp_path)
    assert result.error is None, result.error
    assert result.format == ("pcapng" if ng else "pcap")
    everything = findings(store, run_id)
    # The flow file holds what a proxy read; a passed-through connection is in it, if at
    # all, without the bytes it carried, so its replay keeps no connection records and
    # gives no undetermined-content finding. The packet capture has them all: compared
    # here is what both could read, the encrypted connection checked on its own below.
    [tls] = [f for f in everything if f[0] == "undetermined_content"]
    got = everything - {tls}
    if v6:
        # Same traffic over NAT64 addresses: the IP differs, geolocation cannot place it.
        assert {(c, f, h) for c, f, h, *_ in got} == {(c, f, h) for c, f, h, *_ in mitm_findings}
        assert tls[2] == "push.example-cn-oem.cn"
        return
    assert got == mitm_findings
    # Each protocol contributed: HTTP split and reordered, MQTT, GB/T 32960, JT/T 808, Teltonika.
    fields = {str(f) for _, f, *_ in got}
    assert "request.body:$.vin" in fields and "request.query:imei" in fields
    assert any(f.startswith("mqtt.publish[") for f in fields)
    assert any(f.startswith("gbt32960.") for f in fields)
    assert any(f.startswith("jt808.") for f in fields)
    assert any(f.startswith("teltonika.") for f in fields)  # over UDP
    # The TLS connection is an undetermined-content transfer with its server name and sizes.
    _, field, host, ip, port, country, verdict, violation, rule, preview, _ = tls
    assert (field, host, ip, port, country) == (
        "tls.passthrough",
        "push.example-cn-oem.cn",
        "223.5.5.5",
        443,
        "CN",
    )
    assert (verdict, violation, rule) == ("cross_border", True, "KZ-XB-UND")
    assert "387 B up, 903 B down" in str(preview)
    assert not [n for n in notes(store, run_id) if n[0] == "tls"]  # a finding, not a note
    # Nothing in the capture went unread without a note.
    assert not [n for n in notes(store, run_id) if "error" in n[1]]
    # Every flow is described, through the same stage as live traffic.
    metas = flow_records(store, run_id).values()
    assert {m.protocol for m in metas} >= {"http", "mqtt", "tcp", "udp"}
    [tracker] = [m for m in metas if m.url and "imei=" in m.url]
    assert tracker.method == "POST" and tracker.url and "*" in tracker.url


def test_flow_ids_are_stable_across_replays(tmp_path: Path) -> None:
    capture = pcapgen.write_pcap(
        tmp_path / "c.pcap", pcapgen.capture_packets(pcapgen.standard_conversations())
    )
    ids = []
    for db in ("a.db", "b.db"):
        store, run_id, _ = run_replay(capture, tmp_path, db)
        stored = store.query_findings(run_id=run_id, limit=1000)
        ids.append(sorted(s.finding.flow_id for s in stored))
    assert ids[0] == ids[1] and ids[0]


def test_pcap_and_pcapng_of_the_same_packets_agree_on_flow_ids(tmp_path: Path) -> None:
    pkts = pcapgen.capture_packets(pcapgen.standard_conversations())
    a = pcapgen.write_pcap(tmp_path / "c.pcap", pkts)
    b = pcapgen.write_pcap(tmp_path / "c.pcapng", pkts, ng=True)
    sa, ra, _ = run_replay(a, tmp_path, "a.db")
    sb, rb, _ = run_replay(b, tmp_path, "b.db")
    ka = {(s.finding.flow_id, s.finding.field) for s in sa.query_findings(run_id=ra, limit=1000)}
    kb = {(s.finding.flow_id, s.finding.field) for s in sb.query_findings(run_id=rb, limit=1000)}
    assert ka == kb and ka


def test_missing_segment_is_noted_and_the_rest_still_read(tmp_path: Path) -> None:
    convs = pcapgen.standard_conversations()
    mqtt = convs[2]
    mqtt.shuffle = False
    mqtt.drop = 1  # the second segment of the CONNECT: its password never captured
    capture = pcapgen.write_pcap(tmp_path / "hole.pcap", pcapgen.capture_packets([mqtt]))
    store, run_id, result = run_replay(capture, tmp_path)
    assert result.error is None
    holes = [n for n in notes(store, run_id) if n[0] == "tcp.reassembly"]
    missing = min(mqtt.segment, len(mqtt.up[0]) - mqtt.segment)
    assert len(holes) == 1 and f"{missing} bytes the client sent are missing" in holes[0][1]
    # The MQTT stream cannot be framed across the hole: that is noted too, never guessed.
    assert any(n[0].startswith("mqtt") or "unrecognised" in n[1] for n in notes(store, run_id))


def _pcapng_block_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    offs, pos = [], 0
    while pos + 8 <= len(data):
        offs.append(pos)
        pos += int.from_bytes(data[pos + 4 : pos + 8], "little")
    return offs


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_truncated_capture_names_the_offset_and_keeps_earlier_findings(
    cli: Callable[..., Ran], ng: bool, tmp_path: Path
) -> None:
    pkts = pcapgen.capture_packets(pcapgen.standard_conversations())
    full = pcapgen.write_pcap(tmp_path / ("full.pcapng" if ng else "full.pcap"), pkts, ng=ng)
    # Cut in the middle of the record after the third conversation's last packet.
    ends = [i for i, p in enumerate(pkts) if p.haslayer("TCP") and p["TCP"].flags == "A"]
    keep = ends[5] + 1  # handshake ACK and closing ACK per conversation: 3 conversations
    offsets = _pcapng_block_offsets(full) if ng else pcapgen.record_offsets(full)
    first_packet = len(offsets) - len(pkts)  # pcapng: section and interface blocks first
    cut = offsets[first_packet + keep] + 10
    damaged = tmp_path / ("cut.pcapng" if ng else "cut.pcap")
    damaged.write_bytes(full.read_bytes()[:cut])
    db = tmp_path / "d.db"
    proc = cli(["replay", str(damaged), "--format", "jsonl", "--db", f"sqlite:///{db}"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (
        f"{damaged}: damaged capture: read {keep} packets, "
        f"stopped at byte {offsets[first_packet + keep]}"
    ) in proc.stderr
    # Exactly what the intact first part of the capture gives.
    prefix = pcapgen.write_pcap(tmp_path / "prefix.pcap", pkts[:keep])
    store, run_id, _ = run_replay(prefix, tmp_path, "p.db")
    expected = findings(store, run_id)
    assert expected
    assert findings(FindingStore(f"sqlite:///{db}"), 1) == expected
    run = FindingStore(f"sqlite:///{db}").get_run(1)
    assert run is not None and run.status == "failed" and "stopped at byte" in (run.error or "")


@pytest.mark.parametrize(
    "content",
    [
        b"\xd4\xc3\xb2\xa1\x02\x00",  # pcap magic, header cut
        b"\x0a\x0d\x0d\x0a\xff\xff\xff\xff\x4d\x3c\x2b\x1a",  # pcapng with a wild length
        b"\x0a\x0d\x0d\x0a" + b"\x00" * 40,
    ],
)
def test_damaged_header_is_a_clear_error(
    cli: Callable[..., Ran], content: bytes, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    proc = cli(["replay", str(bad), "--db", f"sqlite:///{tmp_path / 'b.db'}"])
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}: damaged capture: read 0 packets, stopped at byte 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_keylog_is_refused_with_an_explanation(cli: Callable[..., Ran], tmp_path: Path) -> None:
    capture = pcapgen.write_pcap(
        tmp_path / "c.pcap", pcapgen.capture_packets(pcapgen.standard_conversations()[:1])
    )
    keys = tmp_path / "keys.log"
    keys.write_text("CLIENT_RANDOM 00 00\n")
    proc = cli(
        ["replay", str(capture), "--keylog", str(keys), "--db", f"sqlite:///{tmp_path / 'k.db'}"]
    )
    assert proc.returncode == 1
    assert "not supported" in proc.stderr and "undetermined-content" in proc.stderr


def test_progress_bar_on_request(cli: Callable[..., Ran], tmp_path: Path) -> None:
    capture = pcapgen.write_pcap(
        tmp_path / "c.pcap", pcapgen.capture_packets(pcapgen.standard_conversations())
    )
    db = f"sqlite:///{tmp_path / 'p.db'}"
    quiet = cli(["replay", str(capture), "--db", db])
    assert quiet.returncode == 0 and "B/s" not in quiet.stderr  # not a terminal: no bar
    shown = cli(["replay", str(capture), "--db", db, "--progress"])
    assert shown.returncode == 0
    assert "c.pcap" in shown.stderr and "B/s" in shown.stderr and "100%" in shown.stderr


def test_requests_without_responses_are_analysed_not_held(tmp_path: Path) -> None:
    """A tap that saw one direction only: every request still counts, memory does not grow."""
    one = pcapgen.http_conversation(
        "tsp.example-cn-oem.cn",
        "223.5.5.5",
        "POST",
        "/api/v1/telemetry?imei=356938035643809",
        b'{"vin": "%s"}' % pcapgen.VIN.encode(),
        "application/json",
    )
    one.up = one.up * 40
    one.down = []
    capture = pcapgen.write_pcap(tmp_path / "oneway.pcap", pcapgen.capture_packets([one]))
    store, run_id, result = run_replay(capture, tmp_path)
    assert result.error is None
    flows = {s.finding.flow_id for s in store.query_findings(run_id=run_id, limit=1000)}
    assert len(flows) == 40
    assert any("requests without a response" in n[1] for n in notes(store, run_id))


#: A replay of a capture: its store and run, conversations and scapy packets.
Pinned = tuple[FindingStore, int, list[pcapgen.Conversation], list[Any]]
#: An address the embedded GeoLite2 places in China.
CN_SERVER = "47.95.12.40"
PINNED = "telematics.example-oem.cn"


def tls_conversation(sni: str, ip: str) -> pcapgen.Conversation:
    """A TLS exchange in three turns: hello, server flight, records each way; no keys."""
    return pcapgen.Conversation(
        sni,
        ip,
        443,
        [
            pcapgen.client_hello(sni),
            b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x02\x00" + bytes(512),
            b"\x17\x03\x03\x04\x00" + bytes(1024),
        ],
        [b"\x16\x03\x03\x0b\xb8" + bytes(3000), b"\x17\x03\x03\x01\x2c" + bytes(300)],
        kind="tls",
        shuffle=True,
        retransmit=True,
    )


def plain_conversation() -> pcapgen.Conversation:
    return pcapgen.http_conversation(
        "api.example-insurer.kz",
        "2.133.0.1",
        "PUT",
        "/v2/trips",
        b'{"vin": "%s"}' % pcapgen.VIN.encode(),
        "application/json",
    )


def http_bytes(c: pcapgen.Conversation) -> tuple[int, int]:
    """Bytes of an HTTP exchange as the proxy counts what it read: headers and bodies."""
    up = sum(len(bytes(r.headers)) + len(r.raw_content or b"") for r in c.requests)
    down = sum(len(bytes(r.headers)) + len(r.raw_content or b"") for r in c.responses)
    return up, down


@pytest.fixture(scope="module")
def pinned_replay(shared_home: None, tmp_path_factory: pytest.TempPathFactory) -> Pinned:
    """A plaintext HTTP exchange and a TLS connection to China in one capture."""
    tmp = tmp_path_factory.mktemp("pinned")
    convs = [plain_conversation(), tls_conversation(PINNED, CN_SERVER)]
    pkts = pcapgen.capture_packets(convs)
    store, run_id, result = run_replay(pcapgen.write_pcap(tmp / "pinned.pcap", pkts), tmp)
    assert result.error is None and result.detail == "1 http, 1 tls, 2 dns"
    return store, run_id, convs, list(pkts)


def test_encrypted_connection_is_an_undetermined_content_finding(
    pinned_replay: Pinned,
) -> None:
    from shekara.audit.model import Category, Verdict

    store, run_id, convs, _ = pinned_replay
    tls = convs[1]
    up, down = sum(map(len, tls.up)), sum(map(len, tls.down))
    [s] = [
        s
        for s in store.query_findings(run_id=run_id, limit=1000)
        if s.finding.category is Category.UNDETERMINED_CONTENT
    ]
    f = s.finding
    d = f.destination
    assert (d.host, d.ip, d.port, d.sni, d.country) == (PINNED, CN_SERVER, 443, PINNED, "CN")
    assert d.geo_source == "GeoLite2-City (embedded)" and d.geo_build == "2019-12-24"
    assert (f.field, f.source, f.verdict, f.violation) == (
        "tls.passthrough",
        "tls",
        Verdict.CROSS_BORDER,
        True,
    )
    assert f.rule_id == "KZ-XB-UND" and f.legal_refs == ("94-V Art. 16",)
    assert f.preview.startswith(f"TLS to {PINNED}:443 not opened (encrypted in the capture")
    assert f"; {up} B up, {down} B down in " in f.preview
    # The server's location is evidence of the run, as for every other destination.
    assert CN_SERVER in {x.ip for x in store.query_destinations(run_id=run_id)}


def test_encrypted_connection_is_a_connection_record_with_its_fingerprint(
    pinned_replay: Pinned,
) -> None:
    from scapy.layers.inet import TCP

    from shekara.addons.passthrough import ENCRYPTED_IN_CAPTURE
    from shekara.audit.tlshello import parse_client_hello
    from shekara.evidence.connections import UNDETERMINED

    store, run_id, convs, pkts = pinned_replay
    tls = convs[1]
    [r] = store.query_connections(run_id, content=UNDETERMINED)
    hello = parse_client_hello(tls.up[0])
    assert (r.transport, r.reason) == ("tcp", ENCRYPTED_IN_CAPTURE)
    assert (r.bytes_up, r.bytes_down) == (sum(map(len, tls.up)), sum(map(len, tls.down)))
    assert (r.sni, r.ja3, r.ja3_md5, r.ja4) == (PINNED, hello.ja3, hello.ja3_md5, hello.ja4)
    assert r.ja4 and r.ja4.startswith("t")
    assert (r.host, r.ip, r.port, r.country) == (PINNED, CN_SERVER, 443, "CN")
    assert r.client_ip == pcapgen.DEVICE
    # Its times are the capture's: SYN to the last byte of data.
    times = [float(p.time) for p in pkts if p.haslayer(TCP) and 443 in (p[TCP].sport, p[TCP].dport)]
    assert r.started_at == pytest.approx(times[0])
    assert times[0] < (r.ended_at or 0) <= times[-1]
    [finding] = [
        s.finding
        for s in store.query_findings(run_id=run_id, limit=1000)
        if s.finding.field == "tls.passthrough"
    ]
    assert finding.flow_id == r.flow_id
    assert r.geo_confidence == finding.destination.confidence.value  # one attribution


def test_coverage_of_a_replayed_capture_is_its_share_of_bytes_read(
    pinned_replay: Pinned,
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from shekara.api.apikeys import create_key
    from shekara.api.app import create_app
    from shekara.api.settings import Settings
    from shekara.evidence.connections import READ
    from shekara.reports.coverage import from_connections

    store, run_id, convs, _ = pinned_replay
    plain, tls = convs
    read_up, read_down = http_bytes(plain)
    [r] = store.query_connections(run_id, content=READ)
    assert (r.bytes_up, r.bytes_down, r.host, r.country) == (
        read_up,
        read_down,
        "api.example-insurer.kz",
        "KZ",
    )
    read = read_up + read_down
    encrypted = sum(map(len, tls.up)) + sum(map(len, tls.down))
    settings = Settings(db_url="sqlite://", status_file=None, hashing_key_file=tmp_path / "k")
    _, key = create_key(store.engine, "official", "official")
    with TestClient(
        create_app(settings, store=store), headers={"Authorization": f"Bearer {key}"}
    ) as client:
        body = client.get(f"/sessions/{run_id}/coverage").json()
    assert (body["bytes_total"], body["bytes_read"]) == (read + encrypted, read)
    assert body["share_read"] == pytest.approx(read / (read + encrypted))
    assert (body["connections"], body["undetermined_connections"]) == (2, 1)
    assert {h["host"]: h["share_read"] for h in body["hosts"]} == {
        PINNED: 0.0,
        "api.example-insurer.kz": 1.0,
    }
    # The session report says the same, no longer "not measured".
    report = from_connections(store, run_id)
    assert report is not None and (report.decrypted, report.not_decrypted) == (1, 1)


def test_a_flow_file_replay_keeps_no_connection_records(tmp_path: Path) -> None:
    """A flow file holds what a proxy kept, not every byte: its coverage is not measured."""
    from shekara.reports.coverage import from_connections

    capture = pcapgen.write_mitm(tmp_path / "same.mitm", pcapgen.standard_conversations())
    assert not replay.keeps_connections(capture)
    store, run_id, _ = run_replay(capture, tmp_path)
    assert store.query_connections(run_id) == [] and from_connections(store, run_id) is None


def test_encrypted_bytes_go_on_without_being_held(tmp_path: Path) -> None:
    """Megabytes over one TLS connection: counted as they pass, never accumulated."""
    from mitmproxy.proxy.layers.tcp import TcpMessageHook

    from shekara.proxy.packets import PacketReader
    from shekara.proxy.pcapflows import Converter

    big = tls_conversation(PINNED, CN_SERVER)
    big.shuffle = big.retransmit = False
    big.segment = 1400
    hello = big.up[0]
    big.up[0] = hello + b"\x17\x03\x03\x01\x00" + bytes(256)  # early data with the hello
    big.down = [b"\x17\x03\x03\x40\x00" + bytes(16384)] * 64
    capture = pcapgen.write_pcap(tmp_path / "big.pcap", pcapgen.capture_packets([big]))
    sizes: list[int] = []
    held: list[int] = []
    first: list[bytes] = []

    def trigger(event: object) -> None:
        if isinstance(event, TcpMessageHook):
            f = event.flow
            if not first:
                first.append(f.messages[0].content)
            sizes.append(len(f.messages[-1].content))
            held.append(len(f.messages))
            del f.messages[:-1]  # as the traffic stage does for passed-through TLS

    conv = Converter(trigger, lambda _r: None)
    with PacketReader(capture) as reader:
        for p in reader:
            conv.packet(p)
            assert conv.budget.used <= 2 * 64 * 1024
    conv.close()
    assert first == [hello]  # the ClientHello alone, as mitmproxy hands it over
    assert sum(sizes) == sum(map(len, big.up)) + sum(map(len, big.down))
    assert max(held) <= 2 and conv.budget.used == 0 and len(conv.tcp) == 0  # the last two


def test_a_replay_is_a_run_with_its_provenance(cli: Callable[..., Ran], tmp_path: Path) -> None:
    from shekara import __version__

    capture = pcapgen.write_pcap(
        tmp_path / "c.pcapng", pcapgen.capture_packets(pcapgen.standard_conversations()), ng=True
    )
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    run = FindingStore(db).get_run(1)
    assert run is not None and run.kind == "replay" and run.status == "completed"
    assert run.capture == str(capture) and run.capture_sha256 == replay.sha256_file(capture)
    assert run.ruleset_name == "kz-94v" and (run.ruleset_version or "").startswith("2026.11.1+")
    assert run.tool_version == __version__
    assert any(g["build"] == "2019-12-24" for g in run.geo_sources)
    [entry] = run.captures
    assert entry["format"] == "pcapng" and entry["sha256"] == run.capture_sha256
    assert entry["packets"] == len(pcapgen.capture_packets(pcapgen.standard_conversations()))
    assert entry["flows"] == run.flows_read and entry["error"] is None
