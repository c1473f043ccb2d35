"""The report as a PDF, drawn with fpdf2 in the DejaVu fonts shipped with this package.

fpdf2 is pure Python and needs no system library, no network and no font
installed on the machine: the TrueType fonts are embedded (subset) in every
PDF, with their Unicode map, so Cyrillic with the nine Kazakh letters Russian
lacks prints, and the text can be searched and extracted.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from shekara.reports.document import (
    Block,
    Bullets,
    Commands,
    Document,
    Fields,
    Paragraph,
    Section,
    Table,
)

SANS = "DejaVuSans"
MONO = "DejaVuSansMono"
FONT_FILES = {
    (SANS, ""): "DejaVuSans.ttf",
    (SANS, "B"): "DejaVuSans-Bold.ttf",
    (MONO, ""): "DejaVuSansMono.ttf",
}
BODY_PT = 9.5
SMALL_PT = 7.5


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    """The code points every shipped font draws."""
    from fontTools.ttLib import TTFont

    folder = resources.files("shekara.reports") / "fonts"
    sets = []
    for name in FONT_FILES.values():
        with resources.as_file(folder / name) as path:
            sets.append(set(TTFont(str(path), lazy=True).getBestCmap()))
    return frozenset(set.intersection(*sets) | {ord("\n")})


def printable(text: str) -> str:
    """Characters the fonts lack (a CJK host name, an emoji) as <U+XXXX>, not silently dropped."""
    covered = _covered()
    if all(ord(ch) in covered for ch in text):
        return text
    return "".join(ch if ord(ch) in covered else f"<U+{ord(ch):04X}>" for ch in text)


def _printable_section(section: Section) -> Section:
    blocks: list[Block] = []
    for b in section.blocks:
        if isinstance(b, Paragraph):
            blocks.append(replace(b, text=printable(b.text)))
        elif isinstance(b, Fields):
            rows = tuple((printable(k), printable(v), mono) for k, v, mono in b.rows)
            blocks.append(replace(b, rows=rows))
        elif isinstance(b, Table):
            blocks.append(
                replace(
                    b,
                    header=tuple(printable(h) for h in b.header),
                    rows=tuple(tuple(printable(c) for c in row) for row in b.rows),
                )
            )
        elif isinstance(b, Bullets):
            blocks.append(replace(b, items=tuple(printable(i) for i in b.items)))
        else:
            blocks.append(replace(b, lines=tuple(printable(line) for line in b.lines)))
    return Section(printable(section.title), tuple(blocks))


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, "", 7)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.footer_text}   {self.page_no()}/{{nb}}", align=Align.C)
        self.set_text_color(0)


def _newline(pdf: FPDF, text: str, height: float, **kwargs: object) -> None:
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, **kwargs)  # type: ignore[arg-type]


def _paragraph(pdf: FPDF, block: Paragraph) -> None:
    pdf.set_font(SANS, "B" if block.style == "lead" else "", BODY_PT)
    if block.style == "warning":
        pdf.set_text_color(138, 75, 0)
    _newline(pdf, block.text, 5, align=Align.L)
    pdf.set_text_color(0)
    pdf.ln(1.5)


def _fields(pdf: FPDF, block: Fields) -> None:
    pdf.set_font(SANS, "", BODY_PT - 0.5)
    with pdf.table(
        col_widths=(1, 2.6),
        first_row_as_headings=False,
        text_align=Align.L,
        line_height=4.6,
        wrapmode=WrapMode.WORD,
        padding=1,
    ) as table:
        for label, value, mono in block.rows:
            row = table.row()
            row.cell(label, style=FontFace(color=(70, 70, 70), fill_color=(247, 247, 247)))
            row.cell(value, style=FontFace(family=MONO, size_pt=SMALL_PT) if mono else None)
    pdf.ln(2)


def _table(pdf: FPDF, block: Table) -> None:
    size = SMALL_PT if block.small else BODY_PT - 0.5
    pdf.set_font(SANS, "", size)
    with pdf.table(
        col_widths=block.widths,
        text_align=Align.L,
        line_height=size * 0.5,
        wrapmode=WrapMode.WORD,
        padding=0.8,
        headings_style=FontFace(emphasis="BOLD", fill_color=(238, 242, 248)),
        repeat_headings=1,
    ) as table:
        table.row(block.header)
        for cells in block.rows:
            row = table.row()
            for i, text in enumerate(cells):
                mono = FontFace(family=MONO, size_pt=size - 0.5) if i in block.mono else None
                row.cell(text, style=mono)
    pdf.ln(2)


def _bullets(pdf: FPDF, block: Bullets) -> None:
    pdf.set_font(SANS, "", BODY_PT)
    for item in block.items:
        pdf.cell(5, 5, "\N{BULLET}")
        pdf.multi_cell(0, 5, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=Align.L)
        pdf.ln(0.8)
    pdf.ln(1)


def _commands(pdf: FPDF, block: Commands) -> None:
    pdf.set_font(MONO, "", SMALL_PT + 0.5)
    pdf.set_fill_color(244, 244, 244)
    _newline(pdf, "\n".join(block.lines), 4.5, fill=True, align=Align.L)
    pdf.ln(2)


def render(document: Document) -> bytes:
    """The PDF bytes of the document (A4, fonts embedded)."""
    document = replace(
        document,
        title=printable(document.title),
        subtitle=printable(document.subtitle),
        footer=printable(document.footer),
        sections=tuple(_printable_section(s) for s in document.sections),
    )
    pdf = _Pdf(orientation="portrait", unit="mm", format="A4")
    pdf.footer_text = document.footer
    pdf.set_title(f"{document.title} · {document.subtitle}")
    pdf.set_lang(document.lang)
    pdf.set_creator("Shekara")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    with ExitStack() as stack:
        folder = resources.files("shekara.reports") / "fonts"
        for (family, style), name in FONT_FILES.items():
            path: Path = stack.enter_context(resources.as_file(folder / name))
            pdf.add_font(family, style, str(path))
        pdf.add_page()
        pdf.set_font(SANS, "B", 15)
        _newline(pdf, document.title, 7, align=Align.L)
        pdf.set_font(SANS, "", 11)
        pdf.set_text_color(85)
        _newline(pdf, document.subtitle, 6)
        pdf.set_text_color(0)
        for section in document.sections:
            pdf.ln(3)
            pdf.set_font(SANS, "B", 12)
            pdf.set_text_color(43, 76, 126)
            _newline(pdf, section.title, 6.5)
            pdf.set_text_color(0)
            pdf.ln(1)
            for block in section.blocks:
                if isinstance(block, Paragraph):
                    _paragraph(pdf, block)
                elif isinstance(block, Fields):
                    _fields(pdf, block)
                elif isinstance(block, Table):
                    _table(pdf, block)
                elif isinstance(block, Bullets):
                    _bullets(pdf, block)
                elif isinstance(block, Commands):
                    _commands(pdf, block)
        return bytes(pdf.output())
