"""pcap and pcapng captures replay to the same findings as the equivalent mitmproxy capture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    ctx = pipeline.build(f"sqlite:///{tmp_path / db}", "replay", home=HOME["path"])
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
    got = findings(store, run_id)
    if v6:
        # Same traffic over NAT64 addresses: the IP differs, geolocation cannot place it.
        assert {(c, f, h) for c, f, h, *_ in got} == {(c, f, h) for c, f, h, *_ in mitm_findings}
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
    [tls] = [n for n in notes(store, run_id) if n[0] == "tls"]
    assert "SNI push.example-cn-oem.cn" in tls[1] and "387 bytes sent and 903 received" in tls[1]
    assert tls[2] == "CN"
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


def test_encrypted_transfer_carries_sizes_and_fingerprints(tmp_path: Path) -> None:
    from shekara.audit.tlshello import parse_client_hello
    from shekara.proxy.packets import PacketReader
    from shekara.proxy.pcapflows import Converter, Remark

    [tls] = [c for c in pcapgen.standard_conversations() if c.kind == "tls"]
    capture = pcapgen.write_pcap(tmp_path / "tls.pcap", pcapgen.capture_packets([tls]))
    remarks: list[Remark] = []
    conv = Converter(lambda _event: None, remarks.append)
    with PacketReader(capture) as reader:
        for p in reader:
            conv.packet(p)
    conv.close()
    [r] = [r for r in remarks if r.transfer is not None]
    t = r.transfer
    assert t is not None
    hello = parse_client_hello(pcapgen.client_hello("push.example-cn-oem.cn"))
    assert (t.bytes_up, t.bytes_down) == (len(tls.up[0]), len(tls.down[0]))
    assert (t.sni, t.ja3, t.ja3_md5, t.ja4) == (hello.sni, hello.ja3, hello.ja3_md5, hello.ja4)
    assert (r.ip, r.port, r.host, t.client_ip) == ("223.5.5.5", 443, hello.sni, pcapgen.DEVICE)
    assert hello.ja4 in r.reason and hello.ja3_md5 in r.reason


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
