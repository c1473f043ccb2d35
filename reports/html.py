"""The report as a self-contained HTML page (Jinja2, autoescaped: traffic text is untrusted)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from shekara.reports.document import Document


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # autoescape=True for every template: a host name like "<script>" is text, never markup.
    return Environment(
        loader=PackageLoader("shekara.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(document: Document) -> bytes:
    """The page, UTF-8; it loads nothing from elsewhere (styles are inline)."""
    template = _environment().get_template("report.html.j2")
    return template.render(doc=document).encode("utf-8")
