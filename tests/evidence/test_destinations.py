"""Every destination a run's evidence refers to is stored with its sources, evidence, confidence."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.exc import IntegrityError

from shekara.audit.model import Confidence, Verdict
from shekara.evidence.rows import destination_rows
from shekara.evidence.store import FindingStore, UnknownRunError

from .conftest import FOREIGN, build_finding, build_note

EVIDENCE = (
    {"kind": "mmdb", "source": "A", "build": "2026-01-01", "country": "CN", "network": "x/24"},
    {"kind": "mmdb", "source": "B", "build": "2019-12-24", "miss": True},
    {"kind": "name", "name": "telematics.example.cn", "how": "device-dns", "chain": []},
    {"kind": "consensus", "outcome": "single source", "country": "CN", "confidence": "medium"},
)
LOCATED = replace(FOREIGN, evidence=EVIDENCE, confidence=Confidence.MEDIUM)
DISPUTED = replace(
    FOREIGN,
    host="tsp.example.cn",
    ip="203.0.113.9",
    country=None,
    disputed=True,
    confidence=Confidence.LOW,
    evidence=({"kind": "mmdb", "source": "A", "country": "CN"}, {"kind": "mmdb", "country": "KZ"}),
)


def test_rows_one_per_host_and_ip_latest_evidence_wins() -> None:
    older = replace(LOCATED, evidence=EVIDENCE[:1])
    rows = destination_rows(
        7,
        [
            build_finding(flow_id="2", destination=LOCATED, observed_at=20.0),
            build_finding(flow_id="1", destination=older, observed_at=10.0),
        ],
        [build_note(destination=DISPUTED, observed_at=5.0)],
    )
    assert len(rows) == 2
    located = next(r for r in rows if r["ip"] == "203.0.113.7")
    assert (located["first_seen"], located["last_seen"]) == (10.0, 20.0)
    assert located["evidence"] == [dict(e) for e in EVIDENCE]
    assert [s["source"] for s in located["sources"]] == ["A", "B"]
    assert located["verdict"] == "cross_border"
    disputed = next(r for r in rows if r["ip"] == "203.0.113.9")
    assert disputed["verdict"] is None and disputed["disputed"] is True


def test_store_keeps_and_refreshes_destinations(store: FindingStore) -> None:
    run = store.start_run("replay")
    store.add(run, [build_finding(flow_id="1", destination=LOCATED, observed_at=10.0)])
    store.add(
        run,
        [
            build_finding(
                flow_id="2",
                destination=DISPUTED,
                verdict=Verdict.DISPUTED,
                violation=False,
                observed_at=30.0,
            )
        ],
        [build_note(flow_id="3", destination=LOCATED, observed_at=40.0)],
    )
    # A retried batch changes nothing but what is newer.
    store.add(run, [build_finding(flow_id="1", destination=LOCATED, observed_at=10.0)])
    dests = store.query_destinations(run_id=run)
    assert [(d.ip, d.verdict) for d in dests] == [
        ("203.0.113.7", Verdict.CROSS_BORDER),
        ("203.0.113.9", Verdict.DISPUTED),
    ]
    located = dests[0]
    assert (located.first_seen, located.last_seen) == (10.0, 40.0)
    assert located.confidence is Confidence.MEDIUM and located.country == "CN"
    assert located.evidence == [dict(e) for e in EVIDENCE]
    assert [s["source"] for s in located.sources] == ["A", "B"]
    assert [d.ip for d in store.query_destinations(disputed=True)] == ["203.0.113.9"]
    assert [d.ip for d in store.query_destinations(confidence="low")] == ["203.0.113.9"]
    assert [d.ip for d in store.query_destinations(country="cn", run_id=run)] == ["203.0.113.7"]
    assert store.query_destinations(verdict="cdn_edge") == []
    stored = store.query_findings(run_id=run)
    assert {f.finding.verdict for f in stored} == {Verdict.CROSS_BORDER, Verdict.DISPUTED}


def test_destinations_of_an_unknown_run_are_refused(store: FindingStore) -> None:
    with pytest.raises(UnknownRunError):
        store.add(999, [build_finding(destination=LOCATED)])
    with pytest.raises(IntegrityError):  # notes alone: the foreign keys refuse them
        store.add(999, [], [build_note(destination=LOCATED)])
    assert store.query_destinations() == []
