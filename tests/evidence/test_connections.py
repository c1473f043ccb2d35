"""Connection records, decryption coverage, vehicles and markers in the store (both back ends)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from shekara.evidence.connections import READ, UNDETERMINED, ConnectionRecord
from shekara.evidence.store import FindingStore, RunClosedError, UnknownRunError
from tests.evidence.conftest import build_finding, build_note


def rec(
    flow_id: str, host: str, content: str, up: int, down: int, **kw: object
) -> ConnectionRecord:
    return ConnectionRecord(
        flow_id=flow_id,
        transport="tcp",
        content=content,
        started_at=1_700_000_000.0,
        ended_at=1_700_000_010.0,
        host=host,
        bytes_up=up,
        bytes_down=down,
        **kw,  # type: ignore[arg-type]
    )


def test_coverage_per_run_and_host(store: FindingStore) -> None:
    run = store.start_run("proxy")
    other = store.start_run("proxy")
    store.add_connections(
        run,
        [
            rec("a", "API.example.cn", READ, 100, 900, country="cn"),
            rec("b", "api.example.cn", READ, 50, 50),
            rec("c", "pinned.example.cn", UNDETERMINED, 3000, 7000, ja4="t13d1516h2_x_y"),
            rec("d", "tracker.example.kz", READ, 400, 0),
        ],
    )
    store.add_connections(other, [rec("a", "elsewhere.example", UNDETERMINED, 5, 5)])
    whole, per_host = store.coverage(run)
    assert (whole.bytes_total, whole.bytes_read, whole.connections) == (11_500, 1_500, 4)
    assert whole.undetermined_connections == 1
    assert whole.share_read == pytest.approx(1_500 / 11_500)
    assert [(c.host, c.bytes_total, c.share_read) for c in per_host] == [
        ("pinned.example.cn", 10_000, 0.0),
        ("api.example.cn", 1_100, 1.0),
        ("tracker.example.kz", 400, 1.0),
    ]
    stored = {c.flow_id: c for c in store.query_connections(run)}
    assert stored["a"].host == "api.example.cn" and stored["a"].country == "CN"
    assert [c.flow_id for c in store.query_connections(run, content=UNDETERMINED)] == ["c"]
    assert stored["c"].ja4 == "t13d1516h2_x_y"


def test_a_repeated_record_is_stored_once(store: FindingStore) -> None:
    run = store.start_run("proxy")
    store.add_connections(run, [rec("a", "h.example", READ, 1, 2)])
    store.add_connections(
        run, [rec("a", "h.example", READ, 1, 2), rec("b", "h.example", READ, 3, 4)]
    )
    assert [c.flow_id for c in store.query_connections(run)] == ["a", "b"]


def test_no_bytes_is_unknown_coverage_not_full(store: FindingStore) -> None:
    run = store.start_run("proxy")
    whole, per_host = store.coverage(run)
    assert whole.bytes_total == 0 and whole.share_read is None and per_host == []


def test_findings_notes_and_connections_are_stored_together_or_not_at_all(
    store: FindingStore,
) -> None:
    run = store.start_run("proxy")
    finding = build_finding(flow_id="a")
    store.add(
        run, [finding], [build_note(flow_id="a")], [rec("a", "h.example", UNDETERMINED, 5, 6)]
    )
    # Delivered again (a restart before the spool's release): each is kept once.
    store.add(
        run, [finding], [build_note(flow_id="a")], [rec("a", "h.example", UNDETERMINED, 5, 6)]
    )
    store.add(run, [], [], [rec("b", "h.example", READ, 1, 1)])
    assert (store.count(run_id=run), store.count_notes(run)) == (1, 1)
    assert sorted(c.flow_id for c in store.query_connections(run)) == ["a", "b"]
    # A closed run refuses the findings, and the connection records with them.
    store.finish_run(run, 1, "completed")
    with pytest.raises(RunClosedError):
        store.add(run, [build_finding(flow_id="c")], [], [rec("c", "h.example", READ, 1, 1)])
    assert sorted(c.flow_id for c in store.query_connections(run)) == ["a", "b"]


def test_connections_of_an_unknown_run_are_refused(store: FindingStore) -> None:
    with pytest.raises(IntegrityError):
        store.add(999_999, [], [], [rec("x", "h.example", READ, 1, 1)])


def test_vehicle_registration_and_session_description(store: FindingStore) -> None:
    v1 = store.register_vehicle("h" * 64, "LSV************94", "Chery", "Tiggo 8")
    assert store.register_vehicle("h" * 64, "LSV************94", "Chery", "Tiggo 8 Pro") == v1
    v2 = store.register_vehicle("g" * 64, "XTA************01", "Lada", "Vesta")
    assert v2 != v1
    run = store.start_run("proxy")
    store.describe_session(run, v1, "TBOX 2.4.1", "idle, then navigation")
    from shekara.evidence import schema

    with store.engine.connect() as conn:
        row = conn.execute(schema.runs.select().where(schema.runs.c.id == run)).one()
        vehicle = conn.execute(schema.vehicles.select().where(schema.vehicles.c.id == v1)).one()
    assert (row.vehicle_id, row.firmware, row.scenario) == (
        v1,
        "TBOX 2.4.1",
        "idle, then navigation",
    )
    assert vehicle.model == "Tiggo 8 Pro"


def test_markers_in_time_order(store: FindingStore) -> None:
    run = store.start_run("proxy")
    store.add_marker(run, "voice assistant", at=20.0)
    store.add_marker(run, "navigation to Astana", at=10.0)
    assert store.markers(run) == [(10.0, "navigation to Astana"), (20.0, "voice assistant")]
    with pytest.raises(UnknownRunError):
        store.add_marker(424242, "nowhere")


def test_attribution_counts_connections_or_else_flows_by_their_evidence(
    store: FindingStore,
) -> None:
    from dataclasses import replace

    from shekara.audit.model import Confidence

    from .conftest import FOREIGN, build_finding, build_note

    live = store.start_run("proxy")
    store.add_connections(
        live,
        [
            rec("a", "api.example.cn", READ, 10, 10, geo_confidence="high"),
            rec("b", "cdn.example.cn", READ, 10, 10, geo_confidence="low"),
        ],
    )
    got = store.attribution(live)
    assert (got.high, got.total, got.basis, got.share_high) == (1, 2, "connections", 0.5)

    replayed = store.start_run("replay")
    low = replace(FOREIGN, host="edge.example.cn", confidence=Confidence.LOW)
    store.add(
        replayed,
        # Two findings of one flow count once; a note's flow counts too.
        [
            build_finding(flow_id="f1"),
            build_finding(flow_id="f1", field="request.body:$.v2"),
            build_finding(flow_id="f2", destination=low),
        ],
        [build_note(flow_id="n1")],
    )
    got = store.attribution(replayed)
    assert (got.high, got.total, got.basis) == (2, 3, "flows with findings")
    empty = store.attribution(store.start_run("replay"))
    assert (empty.total, empty.share_high) == (0, None)


def test_attribution_of_flows_follows_each_servers_evidence(store: FindingStore) -> None:
    """Flows to servers known by name only, by address only, in mixed case, at every confidence,
    and a flow to two servers: high when any of its servers is placed with high confidence."""
    from dataclasses import replace

    from sqlalchemy import select

    from shekara.audit.model import Confidence
    from shekara.evidence import schema

    from .conftest import FOREIGN

    servers = [
        replace(FOREIGN, host=host, ip=ip, confidence=confidence)
        for host, ip, confidence in [
            ("API.example.cn", "203.0.113.1", Confidence.HIGH),
            ("api.example.cn", "203.0.113.2", Confidence.LOW),
            (None, "203.0.113.3", Confidence.HIGH),
            (None, "203.0.113.4", Confidence.MEDIUM),
            ("names.example.ru", None, Confidence.HIGH),
            ("edge.example.de", None, Confidence.LOW),
        ]
    ]
    run = store.start_run("replay")
    store.add(
        run,
        [
            build_finding(flow_id=f"f{i % 17}", field=f"$.v{i}", destination=servers[i % 6])
            for i in range(60)
        ],
        [build_note(flow_id=f"n{i}", destination=servers[(i * 5) % 6]) for i in range(6)]
        + [build_note(flow_id="f3", destination=servers[4]), build_note(flow_id="n9")],
    )
    f, n, d = schema.findings.c, schema.notes.c, schema.destinations.c
    with store.engine.connect() as conn:
        seen = conn.execute(select(f.flow_id, f.host, f.ip).where(f.run_id == run)).all()
        seen += conn.execute(select(n.flow_id, n.host, n.ip).where(n.run_id == run)).all()
        high_servers = {
            (r.host or "", r.ip or "")
            for r in conn.execute(select(d.host, d.ip, d.confidence).where(d.run_id == run))
            if r.confidence == "high"
        }
    flows = {r.flow_id for r in seen}
    high = {r.flow_id for r in seen if (r.host or "", r.ip or "") in high_servers}
    # The case above is not empty on either side: some flows high, some not.
    assert 0 < len(high) < len(flows)
    got = store.attribution(run)
    assert (got.high, got.total, got.basis) == (len(high), len(flows), "flows with findings")
