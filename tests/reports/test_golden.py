"""The report of one fixed session, word for word, against the copy kept in ``golden/``.

Faster queries or renderers must not change what a report says: this session
(findings to servers with and without host names or addresses, in mixed case,
on geolocations of every confidence, notes, remote-control commands, markers)
is rendered as HTML in each language and as Kazakh PDF text, and compared
whole with the kept copies. After a deliberate change of the report's
wording, rewrite them with ``python tests/reports/test_golden.py`` and review
the difference like any other change.
"""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader

from shekara import __version__
from shekara.audit.model import Category, Confidence, Destination, Finding, Note, Verdict
from shekara.evidence.store import FindingStore
from shekara.reports import document, facts, html, pdf
from shekara.reports.i18n import Language

GOLDEN = Path(__file__).parent / "golden"
STARTED = 1_700_000_000.0
GENERATED = 1_700_100_000.0
MAX_EVIDENCE = 15
CATEGORIES = [
    c for c in Category if c not in (Category.REMOTE_CONTROL, Category.UNDETERMINED_CONTENT)
]
COUNTRIES = ["CN", "RU", "DE", "KZ", "US", None]
CONFIDENCES = [Confidence.HIGH, Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW]


def _destination(i: int) -> Destination:
    country = COUNTRIES[i % len(COUNTRIES)]
    # Some servers are known by address only, some by name only; names in mixed case.
    host = None if i % 11 == 0 else f"Srv{i % 13}.Example.{(country or 'zz').lower()}"
    ip = None if i % 7 == 0 and host is not None else f"198.51.100.{i % 17}"
    return Destination(
        host=host,
        ip=ip,
        port=443,
        sni=host,
        country=country,
        asn=64500 + i % 5,
        org=f"Example Network {i % 5}",
        geo_source="GeoLite2-City",
        geo_build="2019-12-24",
        confidence=CONFIDENCES[i % len(CONFIDENCES)],
        disputed=i % 19 == 0,
        cdn="Example CDN" if i % 23 == 0 else None,
        evidence=({"kind": "mmdb", "source": "GeoLite2-City", "country": country},),
    )


def _finding(i: int) -> Finding:
    destination = _destination(i)
    country = destination.country
    remote = i % 29 == 0
    if remote:
        verdict, violation, rule = Verdict.CROSS_BORDER, False, "KZ-RC-001"
    elif country is None:
        verdict, violation, rule = Verdict.UNKNOWN, False, "KZ-UNK-001"
    elif country == "KZ":
        verdict, violation, rule = Verdict.DOMESTIC, False, "KZ-DOM-001"
    else:
        verdict, violation, rule = Verdict.CROSS_BORDER, True, f"KZ-XB-00{i % 3}"
    return Finding(
        flow_id=f"flow-{i // 3}",
        category=Category.REMOTE_CONTROL if remote else CATEGORIES[i % len(CATEGORIES)],
        field=f"request.body:$.items[{i}].value",
        source="request.body",
        preview=f"{i:03d}*****{i % 10}",
        value_hash=f"{i * 7919:064x}",
        destination=destination,
        verdict=verdict,
        violation=violation,
        rule_id=rule,
        severity=("critical", "high", "medium", "low")[i % 4] if violation else "info",
        detector="fixed",
        confidence=Confidence.HIGH,
        observed_at=STARTED + i,
        recorded_at=STARTED + i + 0.5,
        legal_refs=("94-V Art. 16", "94-V Art. 12(2)") if violation else (),
    )


def _note(i: int) -> Note:
    return Note(
        flow_id=f"flow-{i * 5}" if i % 2 else f"note-flow-{i}",
        source="request.body",
        reason="opaque payload (high entropy)" if i % 3 == 0 else "gzip: truncated stream",
        destination=None if i % 4 == 0 else _destination(i * 3 + 1),
        observed_at=STARTED + 500 + i,
    )


def fixed_session(path: Path) -> tuple[FindingStore, int]:
    """The session every golden copy was rendered from, in a fresh SQLite store."""
    store = FindingStore(f"sqlite:///{path}")
    store.create_schema()
    run_id = store.start_run(
        "replay",
        capture="drive-almaty.mitm",
        capture_sha256="c" * 64,
        ruleset_name="kz",
        ruleset_version="2024.1",
        geo_sources=[{"name": "GeoLite2-City", "build": "2019-12-24"}],
        tool_version="golden",
        started_at=STARTED,
    )
    findings = [_finding(i) for i in range(120)]
    # The same flow's destination seen again later, at another confidence.
    findings.append(
        replace(
            findings[10],
            field="request.body:$.again",
            destination=replace(findings[10].destination, confidence=Confidence.LOW),
            observed_at=STARTED + 400,
        )
    )
    for start in range(0, len(findings), 30):
        store.add(run_id, findings[start : start + 30], [_note(start // 30)])
    store.add(run_id, [], [_note(i) for i in range(4, 16)])
    store.add_marker(run_id, "navigation to Astana", at=STARTED + 30)
    store.add_marker(run_id, "voice assistant", at=STARTED + 90)
    store.finish_run(run_id, 90, "completed", finished_at=STARTED + 900)
    return store, run_id


def rendered(store: FindingStore, run_id: int) -> dict[str, str]:
    """The golden copies' names and texts: HTML in each language, the Kazakh PDF's text."""
    gathered = facts.gather(store, run_id, max_evidence=MAX_EVIDENCE)
    out = {}
    for lang in ("kk", "ru", "en"):
        doc = document.build(gathered, Language(lang), generated_at=GENERATED)
        out[f"report.{lang}.html"] = html.render(doc).decode("utf-8")
        if lang == "kk":
            reader = PdfReader(io.BytesIO(pdf.render(doc)))
            out["report.kk.pdf.txt"] = "\n".join(p.extract_text() or "" for p in reader.pages)
    # The footer names the version that rendered it; nothing else may differ.
    return {name: text.replace(__version__, "VERSION") for name, text in out.items()}


def test_the_fixed_sessions_report_is_unchanged(tmp_path: Path) -> None:
    store, run_id = fixed_session(tmp_path / "store.db")
    try:
        got = rendered(store, run_id)
    finally:
        store.dispose()
    names = sorted(p.name for p in GOLDEN.iterdir())
    assert names == sorted(got)
    for name, text in got.items():
        expected = (GOLDEN / name).read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from its golden copy"


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_the_golden_copies_say_what_the_session_holds(lang: str) -> None:
    """The kept copies are a report of this session, not an empty page."""
    text = (GOLDEN / f"report.{lang}.html").read_text(encoding="utf-8")
    assert text.count("<tr>") > MAX_EVIDENCE
    assert "drive-almaty.mitm" in text and "navigation to Astana" in text


def _rewrite() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store, run_id = fixed_session(Path(tmp) / "store.db")
        try:
            copies = rendered(store, run_id)
        finally:
            store.dispose()
    GOLDEN.mkdir(exist_ok=True)
    for name, text in copies.items():
        (GOLDEN / name).write_text(text, encoding="utf-8")
        print(f"wrote {GOLDEN / name}", file=sys.stderr)


if __name__ == "__main__":
    _rewrite()
