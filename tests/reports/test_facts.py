"""Report facts come from aggregate queries on SQLite and PostgreSQL, bounded in rows read."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from shekara.audit.model import Category
from shekara.evidence.store import FindingStore, UnknownRunError
from shekara.reports.facts import MAX_TEXT, clean, gather

from ..evidence.conftest import build_finding
from .conftest import manifest_transfers, replay_sample


def test_sample_session_matches_the_manifest(db_url: str, tmp_path: Path) -> None:
    store, run_id = replay_sample(db_url, tmp_path / "home")
    try:
        facts = gather(store, run_id)
        stored = store.query_destinations(run_id=run_id, limit=1000)
    finally:
        store.dispose()
    got: Counter[tuple[str, str]] = Counter()
    for g in facts.transfers:
        got[(g.category, g.country or "")] += g.findings
    assert got == manifest_transfers()
    # Cited as the ruleset's rules record them.
    by_rule = {g.rule_id: g.legal_refs for g in facts.transfers}
    assert by_rule["KZ-XB-001"] == ("94-V Art. 16", "94-V Art. 12(2)")
    assert by_rule["KZ-XB-COMMS"] == ("94-V Art. 16(5)", "94-V Art. 12(2)")
    assert [(g.country, g.rule_id, g.findings) for g in facts.remote] == [("CN", "KZ-RC-001", 1)]
    # Most severe first.
    assert facts.transfers[0].severity == "critical"
    assert facts.session.status == "completed" and facts.session.signature
    assert facts.session.chain_length == facts.evidence_total + facts.domestic + 3
    assert (facts.domestic, facts.unknown_destination) == (13, 3)
    assert (facts.opaque_notes, facts.undecoded_notes) == (1, 2)
    assert facts.coverage is None
    # Every public destination the geo stage recorded, the uncertain ones first.
    public = [d for d in stored if not d.private]
    assert facts.destinations_total == len(public) == len(facts.destinations)
    uncertain = [d for d in public if d.confidence == "low" or d.disputed or d.cdn]
    assert facts.destinations_flagged == len(uncertain)
    flags = [d.flagged for d in facts.destinations]
    assert flags == sorted(flags, reverse=True)
    # A replay keeps no connection records: the flows with findings or notes are counted.
    assert facts.attribution.basis == "flows with findings"
    assert 0 < facts.attribution.total <= facts.session.flows_read
    seqs = [e.seq for e in facts.evidence]
    assert seqs == sorted(seqs) and len(seqs) == facts.evidence_total == 74


def test_many_findings_are_counted_not_read(db_url: str) -> None:
    store = FindingStore(db_url)
    store.create_schema()
    try:
        run_id = store.start_run("proxy")
        base = build_finding(rule_id="KZ-XB-001", legal_refs=("94-V Art. 16",))
        for batch in range(5):
            store.add(
                run_id,
                [
                    replace(base, flow_id=f"flow-{batch}-{i}", category=Category.LOCATION)
                    if i % 2
                    else replace(base, flow_id=f"flow-{batch}-{i}")
                    for i in range(400)
                ],
            )
        facts = gather(store, run_id, max_evidence=25)
    finally:
        store.dispose()
    assert facts.evidence_total == 2000
    assert len(facts.evidence) == 25
    assert [e.seq for e in facts.evidence] == list(range(1, 26))
    assert sorted((g.category, g.findings, g.flows) for g in facts.transfers) == [
        ("location", 1000, 1000),
        ("vin", 1000, 1000),
    ]


def test_an_unknown_run_is_refused(tmp_path: Path) -> None:
    store = FindingStore(f"sqlite:///{tmp_path / 's.db'}")
    store.create_schema()
    with pytest.raises(UnknownRunError):
        gather(store, 7)
    with pytest.raises(ValueError, match="max_evidence"):
        gather(store, store.start_run("replay"), max_evidence=-1)


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("tsp.example.cn", "tsp.example.cn"),
        ("a\x00b\x1bc", "a\ufffdb\ufffdc"),
        ("evil\u202enc.moc", "evil\ufffdnc.moc"),
        ("zero\u200bwidth", "zero\ufffdwidth"),
        ("Қытай", "Қытай"),
    ],
)
def test_untrusted_text_is_made_printable(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_untrusted_text_is_bounded() -> None:
    shown = clean("x" * 1_000_000)
    assert len(shown) == MAX_TEXT and shown.endswith("\u2026")
