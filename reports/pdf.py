"""``--pdf``: the report as a PDF.

With Chromium available the HTML report is printed as it is (same layout, print CSS: no
navigation bar, figures and tables never split across pages).  Without it, the figures and
the text are laid out with matplotlib's ``PdfPages`` (a cover page with the summary and
findings, then one figure per page with its caption), so ``--pdf`` always works.
Both paths write atomically.
"""

from __future__ import annotations

import io
import os
import tempfile
import textwrap
from pathlib import Path

from reports.browser import BrowserError, find_chromium, print_to_pdf
from reports.document import ReportDocument

__all__ = ["write_pdf", "write_pdf_matplotlib"]


def write_pdf(doc: ReportDocument, html_path: str | os.PathLike[str] | None, pdf_path: str | os.PathLike[str],
              *, prefer_browser: bool = True) -> tuple[Path, str]:
    """Write the PDF; returns ``(path, engine)`` with engine ``"chromium"`` or ``"matplotlib"``."""
    if prefer_browser and html_path is not None and find_chromium() is not None:
        try:
            return print_to_pdf(html_path, pdf_path), "chromium"
        except BrowserError:
            pass  # fall through to the matplotlib layout, which needs no browser
    return write_pdf_matplotlib(doc, pdf_path), "matplotlib"


def _text_page(pdf, title: str, lines: list[str]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    FigureCanvasAgg(fig)
    fig.text(0.08, 0.95, title, fontsize=16, weight="bold", va="top")
    y = 0.91
    for line in lines:
        for chunk in textwrap.wrap(line, 95) or [""]:
            fig.text(0.08, y, chunk, fontsize=9, va="top", family="DejaVu Sans")
            y -= 0.018
            if y < 0.05:
                pdf.savefig(fig)
                fig = Figure(figsize=(8.27, 11.69))
                FigureCanvasAgg(fig)
                y = 0.95
    pdf.savefig(fig)


def write_pdf_matplotlib(doc: ReportDocument, pdf_path: str | os.PathLike[str]) -> Path:
    """The PDF laid out with matplotlib (no browser needed)."""
    import base64

    import matplotlib.image as mpimg
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    dest = Path(pdf_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        with PdfPages(tmp) as pdf:
            lines = [f"{k}: {v}" for k, v in doc.summary] + ["", "Findings:"]
            lines += [f"[{f.level}] {f.sentence}  Evidence: {f.evidence}  Action: {f.action}" for f in doc.findings]
            for sec, why in doc.unavailable.items():
                lines.append(f"({sec}) {why}")
            _text_page(pdf, doc.title, [doc.subtitle + " · " + doc.generated_utc, ""] + lines)
            for tables in doc.tables.values():
                for t in tables:
                    rows = [" | ".join(t.header)] + [" | ".join(r) for r in t.rows]
                    _text_page(pdf, t.title, rows + ([t.note] if t.note else []))
            for f in doc.figures:
                png = base64.b64decode(f.png_data_uri.split(",", 1)[1])
                img = mpimg.imread(io.BytesIO(png), format="png")
                page = Figure(figsize=(8.27, 11.69))
                FigureCanvasAgg(page)
                ax = page.add_axes((0.05, 0.35, 0.9, 0.55))
                ax.imshow(img)
                ax.set_axis_off()
                page.text(0.05, 0.33, "\n".join(textwrap.wrap(f"{f.title}. {f.caption}", 100)), fontsize=9, va="top")
                pdf.savefig(page)
            if doc.letter:
                _text_page(pdf, "Letter to the mix engineer", doc.letter.split("\n"))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
