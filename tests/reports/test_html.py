"""The HTML report: hostile traffic stays text, an empty session says what it cannot say, errors."""

from __future__ import annotations

import time
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import insert

from shekara.audit.model import Category, Confidence, Destination, Verdict
from shekara.evidence import schema
from shekara.evidence.store import FindingStore, UnknownRunError
from shekara.reports import (
    Coverage,
    UnsupportedFormatError,
    UnsupportedLanguageError,
    render_session_report,
)

from ..evidence.conftest import build_finding, build_note
from .conftest import describe_session

HOSTILE_HOST = "<script>alert(1)</script>.example.cn"
HOSTILE_FIELD = 'request.body:$[""><img src=x onerror=alert(2)>"]'
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "section",
    "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "pre", "footer",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: bytes) -> _Tags:
    parser = _Tags()
    parser.feed(html.decode("utf-8"))
    return parser


@pytest.fixture
def store(tmp_path: Path) -> FindingStore:
    s = FindingStore(f"sqlite:///{tmp_path / 'store.db'}")
    s.create_schema()
    return s


def _hostile_run(store: FindingStore) -> int:
    run_id = store.start_run("proxy", ruleset_name="kz-94v", ruleset_version="2026.11.1")
    foreign = Destination(
        host=HOSTILE_HOST + "\u202egro.evil",
        ip="203.0.113.9",
        port=443,
        country="CN",
        confidence=Confidence.LOW,
        geo_source="geolite2-city",
        geo_build="2019-12-24",
    )
    findings = [
        build_finding(
            flow_id="f1",
            field=HOSTILE_FIELD,
            preview="</td><b>bold</b>",
            destination=foreign,
            rule_id="KZ-XB-001",
            legal_refs=("94-V Art. 16", "94-V Art. 12(2)"),
        ),
        build_finding(
            flow_id="f2",
            category=Category.REMOTE_CONTROL,
            field="response.body:$.cmd",
            destination=foreign,
            rule_id="KZ-RC-001",
            legal_refs=(),
        ),
        build_finding(
            flow_id="f3",
            destination=Destination(host="lan.local", ip="192.168.1.5", port=80, private=True),
            verdict=Verdict.UNKNOWN,
            violation=False,
            rule_id="KZ-UNK-001",
            severity="low",
        ),
    ]
    note = build_note(flow_id="f4", reason="<svg onload=alert(3)> opaque payload (x): 9 bytes")
    store.add(run_id, findings, [note, replace(note, flow_id="f5", reason="bad \x00 frame")])
    with store.engine.begin() as conn:
        conn.execute(insert(schema.markers).values(run_id=run_id, at=time.time(), label="<iframe>"))
    describe_session(
        store,
        run_id,
        make="<b>Make</b>",
        model="M",
        vin_preview="LGX***05",
        firmware="{{ 7*7 }}",
        scenario="{% raw %}<i>drive</i>",
    )
    return run_id


def test_traffic_text_is_escaped_never_markup(store: FindingStore) -> None:
    run_id = _hostile_run(store)
    html = render_session_report(store, run_id, "en", "html")
    parsed = _parse(html)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    assert not {"src", "onerror", "onload"} & parsed.attrs
    text = "".join(parsed.text)
    # Shown as the text it is, template syntax included, not evaluated.
    for shown in (HOSTILE_HOST, '"><img src=x onerror=alert(2)>', "<iframe>", "{{ 7*7 }}"):
        assert shown in text
    assert "<b>Make</b> M, VIN LGX***05" in text
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Bidirectional overrides and control characters cannot reorder or hide text.
    assert "\u202e" not in text and "\x00" not in text
    assert "\ufffdgro.evil" in text


def test_hostile_session_renders_as_pdf_too(store: FindingStore) -> None:
    run_id = _hostile_run(store)
    for lang in ("ru", "kk", "en"):
        assert render_session_report(store, run_id, lang, "pdf").startswith(b"%PDF-")


def test_remote_control_and_caveats_are_apart(store: FindingStore) -> None:
    run_id = _hostile_run(store)
    text = "".join(_parse(render_session_report(store, run_id, "en", "html")).text)
    transfers = text.split("Cross-border transfers by category and country")[1]
    transfers, remote = transfers.split("Remote-control commands", 1)
    assert "remote control command" not in transfers
    assert "China (CN)\n(1 on a low-confidence geolocation)" in transfers
    assert "KZ-RC-001" in remote and "KZ-RC-001" not in transfers
    caveats = text.split("What could not be seen")[1]
    assert "1 finding went to a server whose country could not be established (1 host)" in caveats
    assert "1 cross-border transfer rests on a low-confidence geolocation." in caveats
    assert "1 payload could not be read" in caveats
    assert "1 part of a flow could not be decoded" in caveats
    assert "did not complete normally (running (not closed))" in caveats
    assert "The session is not signed" in caveats


@pytest.mark.parametrize(
    "lang, none_observed, standing, not_measured",
    [
        (
            "en",
            "No cross-border transfer of personal data was observed in this session.",
            '"no transfer observed" never means "no transfer"',
            "not measured",
        ),
        (
            "ru",
            "В этом сеансе трансграничная передача персональных данных не зафиксирована.",
            "«передача не зафиксирована» никогда не означает «передачи нет»",
            "не измерено",
        ),
        (
            "kk",
            "Бұл сеанста дербес деректердің трансшекаралық берілуі тіркелмеді.",
            "Өз SIM-картасы бар телематика блогы",
            "өлшенбеген",
        ),
    ],
)
def test_a_session_without_findings_says_so_with_its_caveats(
    store: FindingStore, lang: str, none_observed: str, standing: str, not_measured: str
) -> None:
    run_id = store.start_run("proxy")
    store.finish_run(run_id, 12, "completed")
    text = "".join(_parse(render_session_report(store, run_id, lang, "html")).text)
    assert none_observed in text
    assert standing in text
    assert not_measured in text
    assert "shekara verify --statement" in text


def test_coverage_figures_come_from_the_given_source(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    asked: list[int] = []

    def coverage(source: FindingStore, run: int) -> Coverage:
        assert source is store
        asked.append(run)
        return Coverage(
            flows=200,
            decrypted=150,
            not_decrypted=50,
            reasons=(("pinned", 50),),
            bytes_total=8000,
            bytes_read=2000,
        )

    text = "".join(
        _parse(render_session_report(store, run_id, "en", "html", coverage=coverage)).text
    )
    assert asked == [run_id]
    assert "150 (75%)" in text and "50 (25%)" in text and "pinned" in text
    assert "50 flows stayed encrypted: their content is not reported." in text
    assert "8,000" in text and "2,000 (25%)" in text
    # Only the attribution is not measured: the session has no flow to attribute.
    assert text.count("not measured") == 1
    # A source that has no figures for the run: not measured.
    text = "".join(
        _parse(
            render_session_report(store, run_id, "ru", "html", coverage=lambda _s, _r: None)
        ).text
    )
    assert "не измерено" in text


def test_unknown_run_and_unsupported_requests_are_refused(store: FindingStore) -> None:
    with pytest.raises(UnknownRunError):
        render_session_report(store, 404, "en", "pdf")
    run_id = store.start_run("replay")
    with pytest.raises(UnsupportedLanguageError, match="'fr'"):
        render_session_report(store, run_id, "fr", "html")
    with pytest.raises(UnsupportedFormatError, match="'docx'"):
        render_session_report(store, run_id, "en", "docx")


def test_a_live_sessions_coverage_comes_from_its_connection_records(
    store: FindingStore,
) -> None:
    from shekara.evidence.connections import ConnectionRecord

    run_id = store.start_run("proxy")
    records = [
        ConnectionRecord(flow_id=f"r{i}", transport="tcp", content="read", started_at=1.0)
        for i in range(3)
    ] + [
        ConnectionRecord(
            flow_id="p",
            transport="tcp",
            content="undetermined",
            started_at=1.0,
            reason="client rejected the interception certificate",
        )
    ]
    store.add_connections(run_id, records)
    text = "".join(_parse(render_session_report(store, run_id, "en", "html")).text)
    assert "3 (75%)" in text and "1 (25%)" in text
    assert "client rejected the interception certificate" in text
    # A replayed capture keeps no connection records: not measured, never 100%.
    replayed = store.start_run("replay")
    text = "".join(_parse(render_session_report(store, replayed, "en", "html")).text)
    assert "not measured" in text
