"""The PDF report renders in Russian, Kazakh and English: its text is extracted and read back."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from shekara.audit.model import Destination
from shekara.evidence.store import FindingStore
from shekara.reports import render_session_report

from ..evidence.conftest import build_finding
from .conftest import KAZAKH_LETTERS, describe_session

# As the ruleset's references (94-V Art. 16, Art. 12(2), Art. 16(5), Art. 7(12), Art. 11(3))
# are cited in each language, and the countries of the sample capture's servers.
EXPECTED = {
    "en": {
        "articles": ["Law No. 94-V, Art. 16", "Art. 12(2)", "Art. 16(5)", "Art. 7(12)"],
        "countries": ["China (CN)", "Russia (RU)", "Germany (DE)"],
        "words": ["Cross-border transfers by category and country", "Remote-control commands"],
    },
    "ru": {
        "articles": ["Закон № 94-V, ст. 16", "п. 2 ст. 12", "п. 5 ст. 16", "п. 12 ст. 7"],
        "countries": ["Китай (CN)", "Россия (RU)", "Германия (DE)"],
        "words": ["Трансграничная передача по категориям и странам", "удалённого управления"],
    },
    "kk": {
        "articles": ["№ 94-V Заң, 16-бап", "12-баптың 2-тармағы", "16-баптың 5-тармағы"],
        "countries": ["Қытай (CN)", "Ресей (RU)", "Германия (DE)"],
        "words": ["Санаттар мен елдер бойынша трансшекаралық беру", "Қашықтан басқару"],
    },
}


def pdf_text(data: bytes) -> str:
    """All pages' text, with runs of white space made one space (table cells wrap lines)."""
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_pdf_renders_articles_and_country_names(
    sample_session: tuple[FindingStore, int], lang: str
) -> None:
    store, run_id = sample_session
    data = render_session_report(store, run_id, lang, "pdf")
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    expected = EXPECTED[lang]
    for needle in expected["articles"] + expected["countries"] + expected["words"]:
        assert needle in text, (lang, needle)
    # The other languages' wording stays out.
    for other, words in EXPECTED.items():
        if other != lang:
            assert words["countries"][0] not in text
    # The session is named with what the engineer recorded, Kazakh letters included.
    assert f"JS4 {KAZAKH_LETTERS.upper()}{KAZAKH_LETTERS}" in text
    assert "TBOX 3.2.1" in text
    assert "LGX************05" in text


def test_kazakh_pdf_embeds_its_font_and_metadata(sample_session: tuple[FindingStore, int]) -> None:
    store, run_id = sample_session
    reader = PdfReader(io.BytesIO(render_session_report(store, run_id, "kk", "pdf")))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = [f.get_object()["/DescendantFonts"][0].get_object() for f in fonts.values()]
    assert embedded and all("/FontFile2" in d["/FontDescriptor"] for d in embedded)
    assert reader.metadata is not None and reader.metadata.title is not None
    assert "сеанс туралы есеп" in reader.metadata.title
    assert reader.trailer["/Root"]["/Lang"] == "kk"


def test_characters_the_fonts_lack_are_shown_as_code_points(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FindingStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.create_schema()
    run_id = store.start_run("proxy")
    host = "例子.中国"
    destination = Destination(host=host, ip="203.0.113.5", port=443, country="CN")
    store.add(run_id, [build_finding(destination=destination, rule_id="KZ-XB-001")])
    describe_session(
        store,
        run_id,
        make="Car \U0001f697",
        model="X",
        vin_preview="L*",
        firmware="1",
        scenario="s",
    )
    with caplog.at_level(logging.WARNING):
        text = pdf_text(render_session_report(store, run_id, "kk", "pdf"))
    store.dispose()
    # A narrow table column may wrap it: compare without the white space.
    assert "<U+4F8B><U+5B50>.<U+4E2D><U+56FD>" in text.replace(" ", "")
    assert "Car <U+1F697> X" in text
    assert not [r for r in caplog.records if "missing" in r.getMessage()]


# Per language: the byte-coverage label, the low-confidence marking and the caveat's start.
UNCERTAIN = {
    "en": (
        "Bytes whose content could be read",
        "⚠ low confidence",
        "1 destination is marked ⚠",
        "Flows whose destination country is established with high confidence",
        "own mobile connection",
    ),
    "ru": (
        "Байты, содержимое которых удалось прочитать",
        "⚠ низкая достоверность",
        "1 сервер отмечен знаком ⚠",
        "Потоки, страна назначения которых установлена с высокой достоверностью",
        "собственной мобильной связью",
    ),
    "kk": (
        "Мазмұны оқылған байттар",
        "⚠ сенімділігі төмен",
        "1 сервер ⚠ белгісімен белгіленген",
        "Баратын елі жоғары сенімділікпен анықталған ағындар",
        "өз мобильді байланысы",
    ),
}


@pytest.fixture(scope="module")
def uncertain_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FindingStore, int]]:
    """A live session on SQLite: bytes read and not, and a CDN edge placed by the Locator."""
    from shekara.audit.model import Verdict
    from shekara.evidence.connections import READ, UNDETERMINED, ConnectionRecord
    from shekara.geo.locate import Locator
    from shekara.geo.names import NameBook

    folder = tmp_path_factory.mktemp("uncertain")
    store = FindingStore(f"sqlite:///{folder / 'store.db'}")
    store.create_schema()
    run_id = store.start_run("proxy")
    names = NameBook()
    names.learn(
        {"maps.example.de": "maps.example.de.cdn.cloudflare.net"},
        [("maps.example.de.cdn.cloudflare.net", "88.198.0.1")],
    )
    edge = Locator.from_paths([], names=names).locate("maps.example.de", "88.198.0.1", 443)
    assert edge.cdn == "Cloudflare"
    store.add(
        run_id,
        [
            build_finding(
                flow_id="edge", destination=edge, verdict=Verdict.CDN_EDGE, violation=False
            )
        ],
    )
    store.add_connections(
        run_id,
        [
            ConnectionRecord(
                flow_id="read",
                transport="tcp",
                content=READ,
                started_at=1.0,
                host="maps.example.de",
                bytes_up=1000,
                bytes_down=2000,
                geo_confidence="high",
            ),
            ConnectionRecord(
                flow_id="pinned",
                transport="tcp",
                content=UNDETERMINED,
                started_at=1.0,
                host="pinned.example.cn",
                bytes_up=8000,
                bytes_down=1000,
                geo_confidence="medium",
                reason="client rejected the interception certificate",
            ),
        ],
    )
    store.finish_run(run_id, 2, "completed")
    yield store, run_id
    store.dispose()


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_pdf_shows_byte_coverage_and_marks_uncertain_destinations(
    uncertain_session: tuple[FindingStore, int], lang: str
) -> None:
    from shekara.reports.i18n import Language

    store, run_id = uncertain_session
    text = pdf_text(render_session_report(store, run_id, lang, "pdf"))
    language = Language(lang)
    bytes_label, marking, caveat, attributed, not_observed = UNCERTAIN[lang]
    # 3,000 of 12,000 bytes were read; one of the two connections was attributed high.
    share = re.sub(r"\s+", " ", f"{language.number(3000)} ({language.percent(3000, 12000)})")
    assert f"{bytes_label} {share}" in text, (lang, text)
    assert re.sub(r"\s+", " ", language.number(12000)) in text
    assert f"{attributed} 1 ({language.percent(1, 2)})" in text
    assert marking in text and caveat in text
    assert not_observed in text
    # The CDN edge is named with the provider, in every language.
    assert "Cloudflare" in text
