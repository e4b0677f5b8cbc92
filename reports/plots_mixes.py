"""Mix plots: a studio's room fingerprint (how its mixes deviate from the reference, per
band, with the confidence and each mix's own curve)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from calib.errors import SignalError
from reports.style import PALETTE, frequency_axis, house_style, new_figure

__all__ = ["plot_fingerprint"]


def plot_fingerprint(freqs_hz: Any, deviation_db: Any, confidence: Any, *, studio: str,
                     per_mix_db: Any = None, min_db: float = 2.0, min_confidence: float = 0.6) -> Figure:
    """The fingerprint: mean deviation of the mixes from the reference (dB, positive = the
    mixes have too much), thin lines per mix when given, bands that the letter calls
    consistent (|deviation| ≥ ``min_db`` with confidence ≥ ``min_confidence``) marked."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    d = np.asarray(deviation_db, dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    if not (f.shape == d.shape == c.shape) or f.size < 2:
        raise SignalError(f"fingerprint arrays must have one value per band: {f.size} bands, {d.size} deviations, "
                          f"{c.size} confidences")
    with house_style():
        fig, axes = new_figure(height_in=3.4)
        ax = axes[0, 0]
        ax.axhspan(-min_db, min_db, color=PALETTE["band"], linewidth=0, label=f"±{min_db:g} dB: not remarked")
        if per_mix_db is not None:
            per = np.asarray(per_mix_db, dtype=np.float64)
            for i, row in enumerate(per):
                ax.plot(f, row, color=PALETTE["muted"], linewidth=0.7, alpha=0.7, label="each mix" if i == 0 else None)
        ax.plot(f, d, color=PALETTE["blue"], linewidth=1.8, marker="o", markersize=3, label="mean of the mixes")
        strong = (np.abs(d) >= min_db) & (c >= min_confidence)
        if strong.any():
            ax.plot(f[strong], d[strong], linestyle="none", marker="o", markersize=7, markerfacecolor="none",
                    markeredgecolor=PALETTE["red"], label=f"consistent (confidence ≥ {min_confidence:.0%})")
        ax.axhline(0.0, color=PALETTE["ink"], linewidth=0.8)
        frequency_axis(ax, max(20.0, float(f[0])), min(20_000.0, float(f[-1])))
        ax.set_ylabel("Mix − reference (dB)")
        lim = max(6.0, float(np.nanmax(np.abs(d))) + 2.0)
        ax.set_ylim(-lim, lim)
        ax.set_title(f"Room fingerprint of {studio}: + too much, − too little in the mixes")
        ax.legend(loc="upper right", ncol=2, fontsize=7)
    return fig
