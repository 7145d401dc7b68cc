"""workspace/pdf.py: Markdown in, PDF out, whatever names are in it."""

from __future__ import annotations

import io

from pypdf import PdfReader

from workspace.pdf import html_pdf, markdown_pdf

NAMES = ["Fatima el Idrissi", "één café", "Şule Yılmaz", "Çağla Öztürk", "Łukasz Żółć", "Олександр"]
ARABIC = "محمد الإدريسي"


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_markdown_with_dutch_turkish_polish_cyrillic_and_arabic_names_makes_a_pdf() -> None:
    md = "# Leeroverzicht\n\n" + "\n".join(f"- **{n}**: _ok_" for n in [*NAMES, ARABIC])
    data = markdown_pdf(md, title="Leeroverzicht")
    assert data.startswith(b"%PDF-")
    text = text_of(data)
    assert "Leeroverzicht" in text
    for name in NAMES:
        assert name in text, name
    # Shaped right to left: the letters are there, in reading order per word.
    assert "محمد" in text or "دمحم" in text


def test_raw_html_in_markdown_stays_text() -> None:
    text = text_of(markdown_pdf("Een <b>vet</b> woord & <script>x</script>"))
    assert "<b>vet</b>" in text and "<script>" in text


def test_long_text_runs_over_pages_with_a_footer() -> None:
    data = markdown_pdf(
        "\n\n".join(f"Alinea {i}: " + "woord " * 60 for i in range(40)), footer="Kring"
    )
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 2
    assert "Kring" in reader.pages[1].extract_text()


def test_html_in() -> None:
    assert "Kop" in text_of(html_pdf("<h1>Kop</h1><p>tekst</p>"))
