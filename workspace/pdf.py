"""Markdown (or simple HTML) in, PDF bytes out: for digests, minutes and other exports.

Built on fpdf2 (pure Python, installs from PyPI alone, actively maintained by the py-pdf
project) with DejaVu Sans embedded from ``workspace/fonts`` - Latin with its extensions
(Dutch, Turkish, Polish...), Greek, Cyrillic and Arabic - so no name a family or professional
may have makes it fail, whatever fonts the machine has. Text shaping (uharfbuzz) joins Arabic
letters and lays right-to-left words out as they are read. Markdown is rendered with
markdown-it-py with raw HTML off, as everywhere in Kring, so nobody's text becomes markup.

    from workspace.pdf import markdown_pdf
    data = markdown_pdf("# Verslag\\n\\n- Şule, Łukasz, Noor", title="Verslag")
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace, TextStyle

from workspace.markdown import to_html

log = logging.getLogger("kring.pdf")
_IMG = re.compile(r"<img\b", re.IGNORECASE)

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "dejavu"
_FACES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}

INK = "#111111"
#: Headings and quotes in ink, not fpdf2's default red: readable when printed in grey.
TAG_STYLES: dict[str, TextStyle | FontFace] = {
    "h1": TextStyle(font_style="B", font_size_pt=18, color=INK, t_margin=4, b_margin=3),
    "h2": TextStyle(font_style="B", font_size_pt=15, color=INK, t_margin=4, b_margin=2),
    "h3": TextStyle(font_style="B", font_size_pt=13, color=INK, t_margin=3, b_margin=2),
    "h4": TextStyle(font_style="B", font_size_pt=12, color=INK, t_margin=3, b_margin=1),
    "blockquote": TextStyle(color="#333333", l_margin=8, t_margin=2, b_margin=2),
    "code": FontFace(family=FAMILY, color=INK),
    "pre": TextStyle(font_family=FAMILY, color=INK),
}


class _Document(FPDF):
    def __init__(self, title: str, footer: str) -> None:
        super().__init__(format="A4")
        self._footer_text = footer
        for style, file in _FACES.items():
            self.add_font(FAMILY, style, str(FONTS / file))
        # Bold and italic faces lack Arabic: fall back to the regular face for those glyphs.
        self.set_fallback_fonts([FAMILY], exact_match=False)
        self.set_text_shaping(True)
        self.set_title(title)
        self.set_creator("Kring")
        self.set_lang("nl")
        # A fixed date keeps two exports of the same text byte-identical within a day.
        now = datetime.now(UTC)
        self.set_creation_date(datetime(now.year, now.month, now.day, tzinfo=UTC))
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=18)
        self.add_page()
        self.set_font(FAMILY, size=11)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, f"{self._footer_text}  ·  {self.page_no()}", align="C")
        self.set_text_color(0, 0, 0)


def html_pdf(html: str, *, title: str = "Kring", footer: str = "Kring") -> bytes:
    """Simple HTML (headings, paragraphs, lists, tables, emphasis, block quotes, rules) as a
    PDF. The HTML must come from ``workspace.markdown`` (or hold no ``<img>``): fpdf2 loads
    whatever file or URL an image names, so none may ever reach it."""
    if _IMG.search(html):
        raise ValueError("html_pdf never loads images; render Markdown with workspace.markdown")
    pdf = _Document(title, footer)
    pdf.write_html(
        html,
        font_family=FAMILY,
        tag_styles=TAG_STYLES,
        warn_on_tags_not_matching=False,
    )
    return bytes(pdf.output())


def text_pdf(text: str, *, title: str = "Kring", footer: str = "Kring") -> bytes:
    """``text`` as it is, line by line: what a PDF shows when its Markdown cannot be laid out."""
    pdf = _Document(title, footer)
    for line in text.splitlines() or [""]:
        pdf.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def markdown_pdf(markdown: str, *, title: str = "Kring", footer: str = "Kring") -> bytes:
    """Markdown as a PDF (CommonMark, raw HTML off, no images). A text fpdf2 cannot lay out
    (an odd table, say) never breaks the export: the same text comes out as plain lines."""
    try:
        return html_pdf(to_html(markdown), title=title, footer=footer)
    except Exception:
        log.warning("a PDF could not be laid out from its Markdown; writing it as plain text")
        return text_pdf(markdown, title=title, footer=footer)
