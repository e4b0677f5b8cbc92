"""Server-side SVG for the web app: trend lines with hover values, a waveform with markers, the
speaker layout.  Plain SVG text (no JavaScript library, nothing from a network): every point
carries a ``<title>`` the browser shows on hover, and the trend plots zoom by time range
through the page's range links (``?days=7``) so the server draws only what is asked.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

__all__ = ["trend_svg", "waveform_svg", "layout_svg"]

_W, _H = 640, 180
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 52, 12, 14, 26
_COL = {"pass": "#2e7d32", "warn": "#e09b00", "fail": "#c62828"}


def _parse(t: str) -> float:
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")


def _nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def trend_svg(points: Sequence[object], *, title: str, unit: str = "") -> str:
    """A check's history: value per verification with the ± limit band, a dot per run coloured
    by its verdict, each dot's ``<title>`` giving time, value, uncertainty and verdict.

    ``points``: objects with ``time_utc, value, limit, uncertainty, verdict`` (monitor.history
    SeriesPoint), oldest first.
    """
    import numpy as np

    pts = [(_parse(p.time_utc), float(p.value), float(p.limit), float(p.uncertainty), str(p.verdict), p.time_utc)
           for p in points if p.value == p.value]
    pts = [p for p in pts if math.isfinite(p[0])]
    head = (f'<svg class="trend" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')
    if not pts:
        return head + f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle" class="muted">no values yet</text></svg>'
    t = np.array([p[0] for p in pts])
    v = np.array([p[1] for p in pts])
    lim = np.array([p[2] for p in pts])
    lim_f = lim[np.isfinite(lim)]
    span = max(float(np.max(np.abs(v))), float(np.max(lim_f)) if lim_f.size else 0.0, 1e-6) * 1.15
    lo, hi = (-span, span) if np.any(v < 0) or lim_f.size else (0.0, span)
    t0, t1 = float(t.min()), float(t.max())
    if t1 - t0 < 1.0:
        t0, t1 = t0 - 1800.0, t1 + 1800.0
    x = lambda tt: _PAD_L + (tt - t0) / (t1 - t0) * (_W - _PAD_L - _PAD_R)  # noqa: E731
    y = lambda vv: _PAD_T + (hi - vv) / (hi - lo) * (_H - _PAD_T - _PAD_B)  # noqa: E731
    out = [head]
    if lim_f.size:
        L = float(np.median(lim_f))
        out.append(f'<rect x="{_PAD_L}" y="{y(L):.1f}" width="{_W - _PAD_L - _PAD_R}" height="{y(-L) - y(L):.1f}" '
                   f'class="band"><title>tolerance ±{L:g} {escape(unit)}</title></rect>')
    for tk in _nice_ticks(lo, hi):
        out.append(f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y(tk):.1f}" y2="{y(tk):.1f}" class="grid"/>'
                   f'<text x="{_PAD_L - 6}" y="{y(tk) + 4:.1f}" text-anchor="end" class="tick">{tk:g}</text>')
    for tt, anchor in ((t0, "start"), ((t0 + t1) / 2, "middle"), (t1, "end")):
        lab = datetime.fromtimestamp(tt).strftime("%d %b %H:%M")
        out.append(f'<text x="{x(tt):.1f}" y="{_H - 6}" text-anchor="{anchor}" class="tick">{lab}</text>')
    if len(pts) > 1:
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(t, v))
        out.append(f'<polyline points="{path}" class="line"/>')
    for (tt, vv, ll, uu, verdict, ts) in pts:
        tip = f"{ts}: {vv:+.3g} {unit}" + (f" ± {uu:.2g}" if math.isfinite(uu) else "") + f" — {verdict}"
        out.append(f'<circle cx="{x(tt):.1f}" cy="{y(vv):.1f}" r="4" fill="{_COL.get(verdict, "#555")}">'
                   f'<title>{escape(tip)}</title></circle>')
    out.append(f'<text x="{_PAD_L}" y="11" class="unit">{escape(unit)}</text></svg>')
    return "".join(out)


def waveform_svg(x: "np.ndarray", *, fs: int, markers: Sequence[tuple[float, str]] = (), width: int = 900,
                 height: int = 140) -> str:
    """The file's envelope (min/max per pixel column, all channels folded) with a marker line
    at each ``(time_s, label)``; a marker's ``<title>`` names it."""
    import numpy as np

    mono = np.max(np.abs(np.asarray(x, dtype=np.float32)), axis=0) if x.ndim == 2 else np.abs(x)
    n = mono.size
    cols = max(1, min(width, n))
    edges = np.linspace(0, n, cols + 1).astype(int)
    peak = np.maximum.reduceat(mono, edges[:-1]) if n else np.zeros(cols)
    mid = height / 2
    scale = (height / 2 - 4) / max(float(peak.max()) if peak.size else 0.0, 1e-9)
    pts_top = " ".join(f"{i * width / cols:.1f},{mid - p * scale:.1f}" for i, p in enumerate(peak))
    pts_bot = " ".join(f"{i * width / cols:.1f},{mid + p * scale:.1f}" for i, p in reversed(list(enumerate(peak))))
    out = [f'<svg class="wave" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
           f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="waveform">',
           f'<polygon points="{pts_top} {pts_bot}" class="env"/>']
    dur = n / fs if fs else 1.0
    for t_s, label in markers:
        xx = t_s / dur * width if dur > 0 else 0.0
        out.append(f'<g class="marker" data-time="{t_s:.4f}"><line x1="{xx:.1f}" x2="{xx:.1f}" y1="0" y2="{height}"/>'
                   f'<polygon points="{xx - 5:.1f},0 {xx + 5:.1f},0 {xx:.1f},8"/>'
                   f'<title>{escape(label)}</title></g>')
    out.append("</svg>")
    return "".join(out)


def layout_svg(speakers: Sequence[dict], *, size: int = 320) -> str:
    """Top view of the speakers around the listening position: each speaker at its nominal
    azimuth (0° front, positive to the left as in ITU-R BS.2051), height speakers on an
    inner ring, subwoofers along the front wall; ``speakers``: dicts with ``name`` and
    optional ``azimuth_deg``, ``elevation_deg``, ``sub``."""
    c = size / 2
    r_out, r_in = size * 0.40, size * 0.25
    out = [f'<svg class="layout" viewBox="0 0 {size} {size}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="speaker layout">',
           f'<circle cx="{c}" cy="{c}" r="{r_out}" class="ring"/>',
           f'<circle cx="{c}" cy="{c}" r="7" class="seat"><title>listening position (mic here)</title></circle>',
           f'<text x="{c}" y="{c + 22}" text-anchor="middle" class="tick">mic</text>']
    subs = [s for s in speakers if s.get("sub")]
    for i, s in enumerate(speakers):
        name = escape(str(s.get("name", "?")))
        if s.get("sub"):
            k = subs.index(s)
            xx, yy = c + (k - (len(subs) - 1) / 2) * 36, size * 0.05
            out.append(f'<rect x="{xx - 12:.1f}" y="{yy:.1f}" width="24" height="16" class="sub"><title>{name} '
                       f'(subwoofer)</title></rect><text x="{xx:.1f}" y="{yy + 30:.1f}" text-anchor="middle" '
                       f'class="spk">{name}</text>')
            continue
        az = s.get("azimuth_deg")
        if az is None:            # no angle known: spread the speakers across the front
            az = 30.0 - 60.0 * i / max(len(speakers) - 1, 1)
        el = float(s.get("elevation_deg") or 0.0)
        r = r_in if el > 15 else r_out
        a = math.radians(float(az))
        xx, yy = c - r * math.sin(a), c - r * math.cos(a)
        cls = "spk-h" if el > 15 else "spk-m"
        out.append(f'<circle cx="{xx:.1f}" cy="{yy:.1f}" r="11" class="{cls}"><title>{name}: azimuth {float(az):g}°'
                   f'{f", elevation {el:g}°" if el else ""}</title></circle>'
                   f'<text x="{xx:.1f}" y="{yy + 4:.1f}" text-anchor="middle" class="spk-l">{name}</text>')
    out.append("</svg>")
    return "".join(out)
