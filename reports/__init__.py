"""Session reports for officials: HTML or PDF, in Russian, Kazakh or English.

A report names the vehicle and the session, lists the cross-border transfers
observed by category and country with the legal articles the ruleset cites,
shows remote-control commands apart, states the decryption coverage and what
could not be seen, and carries the evidence hashes with the command that
verifies them offline.
"""

from __future__ import annotations

from shekara.evidence.store import FindingStore, UnknownRunError
from shekara.reports.facts import DEFAULT_MAX_EVIDENCE, Coverage, CoverageSource

# Kept free of Babel, Jinja2 and fpdf2 imports: the CLI lists these choices at every start.
LANGUAGES = ("ru", "kk", "en")
FORMATS = ("html", "pdf")

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "Coverage",
    "CoverageSource",
    "UnknownRunError",
    "UnsupportedFormatError",
    "UnsupportedLanguageError",
    "render_session_report",
]


class UnsupportedLanguageError(ValueError):
    """A report language other than ru, kk and en."""


class UnsupportedFormatError(ValueError):
    """A report format other than html and pdf."""


def render_session_report(
    store: FindingStore,
    run_id: int,
    lang: str,
    fmt: str,
    *,
    coverage: CoverageSource | None = None,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
) -> bytes:
    """The report of one session (run) as HTML (UTF-8) or PDF bytes.

    ``coverage`` gives the session's decryption coverage; by default it is read
    from the connection records a live session keeps (``reports.coverage``);
    when there are none, or the source returns None, the report says "not
    measured". At most ``max_evidence``
    findings are listed one by one, the rest counted. Raises
    UnsupportedLanguageError, UnsupportedFormatError, and UnknownRunError for
    a run the store does not hold.
    """
    from shekara.reports import document, facts
    from shekara.reports.coverage import from_connections
    from shekara.reports.i18n import Language

    language = Language(lang)
    if fmt not in FORMATS:
        raise UnsupportedFormatError(
            f"unsupported report format {fmt!r}: choose one of {', '.join(FORMATS)}"
        )
    gathered = facts.gather(
        store, run_id, coverage=coverage or from_connections, max_evidence=max_evidence
    )
    doc = document.build(gathered, language)
    if fmt == "html":
        from shekara.reports import html

        return html.render(doc)
    from shekara.reports import pdf

    return pdf.render(doc)
