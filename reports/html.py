"""One self-contained HTML file: CSS inline, figures as base64 PNG data URIs, no scripts,
no fonts or stylesheets fetched, no external links — it opens the same offline, in a mail
attachment or in ten years.  Printing it (or ``--pdf``) gives one figure per block with
page breaks kept out of figures and tables.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from calib.audio_io import atomic_write_text
from reports.document import SECTIONS, ReportDocument, Table

__all__ = ["render_html", "write_html", "external_references"]

_CSS = """
:root { --ink:#1f2430; --muted:#6b7285; --line:#d9dce3; --bg:#f7f8fa; --pass:#2e7d4f; --fail:#b3261e;
        --warn:#a86400; --accent:#2f6db3; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color:var(--ink);
       background:var(--bg); }
header { background:#1f2430; color:#fff; padding:28px 40px 22px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:600; }
header p { margin:0; color:#c9cedb; }
nav { background:#fff; border-bottom:1px solid var(--line); padding:8px 40px; position:sticky; top:0; z-index:2; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; font-size:14px; }
main { max-width:1040px; margin:0 auto; padding:10px 24px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:18px 24px; margin:20px 0; }
section h2 { margin:0 0 12px; font-size:20px; }
section h3 { margin:18px 0 8px; font-size:16px; }
table { border-collapse:collapse; width:100%; margin:8px 0 4px; font-size:13.5px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--bg); font-weight:600; }
tr.pass td:last-child { color:var(--pass); font-weight:600; }
tr.fail td:last-child { color:var(--fail); font-weight:600; }
tr.warn td:last-child { color:var(--warn); font-weight:600; }
table.summary th { width:42%; background:none; font-weight:normal; color:var(--muted); }
p.note, p.table-note { color:var(--muted); font-size:13px; margin:4px 0 10px; }
p.unavailable { color:var(--muted); font-style:italic; border-left:3px solid var(--line); padding-left:10px; }
figure { margin:16px 0; page-break-inside:avoid; break-inside:avoid; }
figure img { width:100%; height:auto; border:1px solid var(--line); border-radius:4px; background:#fff; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
figcaption b { color:var(--ink); }
ol.findings { list-style:none; padding:0; margin:0; }
ol.findings li { border-left:4px solid var(--line); padding:8px 12px; margin:10px 0; background:var(--bg);
                 border-radius:0 6px 6px 0; page-break-inside:avoid; }
ol.findings li.attention { border-left-color:var(--fail); }
ol.findings li.note { border-left-color:var(--warn); }
ol.findings li.good { border-left-color:var(--pass); }
.badge { display:inline-block; font-size:11px; text-transform:uppercase; letter-spacing:.05em; padding:1px 7px;
         border-radius:10px; margin-right:8px; color:#fff; background:var(--muted); vertical-align:1px; }
.badge.attention { background:var(--fail); } .badge.note { background:var(--warn); } .badge.good { background:var(--pass); }
.finding-sentence { font-weight:600; }
.finding-evidence, .finding-action { font-size:13.5px; margin-top:2px; }
.finding-evidence span, .finding-action span { color:var(--muted); }
.letter { font-family: Georgia, "DejaVu Serif", serif; background:#fffdf7; border:1px solid #eadfc4; padding:18px 24px;
          border-radius:6px; white-space:normal; }
.letter p { margin:0 0 10px; }
.problems { border-color:#e5b8b5; background:#fdf4f3; }
footer { color:var(--muted); font-size:12.5px; text-align:center; padding:10px 0 30px; }
@media print {
  body { background:#fff; font-size:12px; }
  nav { display:none; }
  header { background:#fff; color:var(--ink); border-bottom:2px solid var(--ink); padding:10px 0; }
  header p { color:var(--muted); }
  main { max-width:none; padding:0; }
  section { border:none; padding:0; margin:14px 0; page-break-before:auto; }
  table, figure { page-break-inside:avoid; }
}
"""

_EXTERNAL_RE = re.compile(r"""(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_CSS_URL_RE = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_IMPORT_RE = re.compile(r"@import", re.IGNORECASE)


def external_references(text: str) -> list[str]:
    """Every place in ``text`` that would make a browser fetch from the network (``src``/
    ``href`` to ``http(s)://`` or ``//``, CSS ``url(//...)``, ``@import``).  Empty for a
    self-contained report."""
    hits = []
    for rx in (_EXTERNAL_RE, _CSS_URL_RE, _IMPORT_RE):
        for m in rx.finditer(text):
            hits.append(text[max(m.start() - 20, 0):m.end() + 40])
    return hits


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _table(t: Table) -> str:
    out = [f"<h3>{_e(t.title)}</h3>", "<table>", "<thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in t.header]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        cls = t.status[i] if i < len(t.status) and t.status[i] in ("pass", "fail", "warn") else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        out += [f"<td>{_e(c)}</td>" for c in row]
        out.append("</tr>")
    out.append("</tbody></table>")
    if t.note:
        out.append(f'<p class="table-note">{_e(t.note)}</p>')
    return "\n".join(out)


def _figures(doc: ReportDocument, section: str) -> str:
    out = []
    for f in doc.figures_in(section):
        out.append(f'<figure id="fig-{_e(f.key)}"><img src="{f.png_data_uri}" alt="{_e(f.title)}">'
                   f"<figcaption><b>{_e(f.title)}.</b> {_e(f.caption)}</figcaption></figure>")
    return "\n".join(out)


def _findings(doc: ReportDocument) -> str:
    if not doc.findings:
        return '<p class="unavailable">No findings: nothing was measured or analysed.</p>'
    items = []
    for f in doc.findings:
        fig = f' <a href="#fig-{_e(f.figure)}">(figure)</a>' if f.figure and any(
            x.key == f.figure for x in doc.figures) else ""
        items.append(
            f'<li class="{_e(f.level)}"><span class="badge {_e(f.level)}">{_e(f.level)}</span>'
            f'<span class="finding-sentence">{_e(f.sentence)}</span>'
            f'<div class="finding-evidence"><span>Evidence:</span> {_e(f.evidence)}{fig}</div>'
            f'<div class="finding-action"><span>Action:</span> {_e(f.action)}</div></li>')
    return '<ol class="findings">' + "\n".join(items) + "</ol>"


def _unavailable(doc: ReportDocument, section: str) -> str:
    keys = [k for k in doc.unavailable if k == section or (section == "measurements" and k in ("modes", "distortion"))
            or (section == "compliance" and k in ("decay", "noise"))]
    return "\n".join(f'<p class="unavailable">{_e(doc.unavailable[k])}</p>' for k in keys)


def render_html(doc: ReportDocument) -> str:
    """The complete HTML text of a report."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(doc.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<header><h1>{_e(doc.title)}</h1><p>{_e(doc.subtitle)} · generated {_e(doc.generated_utc)}</p></header>",
             "<nav>" + "".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title in SECTIONS) + "</nav>", "<main>"]
    for sid, title in SECTIONS:
        body = []
        if sid == "summary":
            body.append('<table class="summary"><tbody>' + "".join(
                f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in doc.summary) + "</tbody></table>")
            top = [f for f in doc.findings if f.level != "good"][:3]
            if top:
                body.append("<h3>Most important</h3><ul>" + "".join(f"<li>{_e(f.sentence)}</li>" for f in top) + "</ul>")
            elif doc.findings:
                body.append(f"<p>{_e(doc.findings[0].sentence)}</p>")
        elif sid == "findings":
            body.append('<p class="note">Ranked by how much they matter; each with the figures it rests on and what '
                        "to do.</p>")
            body.append(_findings(doc))
        else:
            for t in doc.tables.get(sid, []):
                body.append(_table(t))
            for para in doc.texts.get(sid, []):
                body.append(f"<p>{_e(para)}</p>")
            body.append(_figures(doc, sid))
            if sid == "mixes" and doc.letter:
                paras = "".join(f"<p>{_e(p).replace(chr(10), '<br>')}</p>" for p in doc.letter.split("\n\n"))
                body.append(f'<h3>Letter to the mix engineer</h3><div class="letter">{paras}</div>')
        body.append(_unavailable(doc, sid))
        parts.append(f'<section id="{sid}"><h2>{_e(title)}</h2>' + "\n".join(b for b in body if b) + "</section>")
    if doc.problems:
        parts.append('<section class="problems" id="problems"><h2>Report notes</h2><ul>' +
                     "".join(f"<li>{_e(p)}</li>" for p in doc.problems) + "</ul></section>")
    meta = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in doc.meta.items() if not isinstance(v, (list, dict)))
    parts.append(f"</main><footer>roomtruth report{(' · ' + meta) if meta else ''}</footer></body></html>")
    return "\n".join(parts)


def write_html(doc: ReportDocument, path: str | os.PathLike[str]) -> Path:
    """Render and write atomically (a reader never sees half a report)."""
    text = render_html(doc)
    return atomic_write_text(path, text)
