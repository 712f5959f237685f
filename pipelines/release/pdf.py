"""The PDF font and text helpers shared by the monthly report (dashboard/report.py) and the adverse-event report
draft (pipelines/release/adverse_events.py): one embedded Unicode font, and text made safe for a reportlab
Paragraph. reportlab is imported inside the functions (a PDF is drawn rarely)."""

from __future__ import annotations

import html
from pathlib import Path


def fonts() -> tuple[str, str]:
    """(regular, bold): a Unicode TrueType font embedded in the PDF (reportlab ships Bitstream Vera): æ ø å, minus,
    dashes."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "ReportVera" not in pdfmetrics.getRegisteredFontNames():
        folder = Path(rl_config.__file__).parent / "fonts"
        pdfmetrics.registerFont(TTFont("ReportVera", str(folder / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont("ReportVeraBold", str(folder / "VeraBd.ttf")))
    return "ReportVera", "ReportVeraBold"


REPLACE = {"\u202f": "\u00a0", "\u2009": " ", "\u2192": "->", "\u2713": "v"}


def paragraph_text(text: str) -> str:
    """Text for a reportlab Paragraph: characters the font lacks replaced, markup characters escaped (a value from
    the data is shown as text, never read as markup)."""
    for a, b in REPLACE.items():
        text = text.replace(a, b)
    return html.escape(text, quote=False)
