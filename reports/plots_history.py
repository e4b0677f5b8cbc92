"""Verification drift over time: each check's value at every verification, its uncertainty
and its limit, one panel per unit (``monitor.history.History.series`` gives the points)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from calib.errors import SignalError
from reports.style import PALETTE, channel_colour, hide_x_labels, house_style, new_figure

__all__ = ["plot_drift", "parse_utc"]

_UNIT_LABEL = {"dB": "Deviation (dB)", "ms": "Arrival shift (ms)", "s": "Time (s)", "%": "Change (%)",
               "us": "Arrival shift (µs)", "µs": "Arrival shift (µs)"}


def parse_utc(text: str) -> datetime:
    """ISO 8601 UTC text (``2026-11-25T18:40:00Z``) → aware datetime."""
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        raise SignalError(f"time {text!r} is not ISO 8601 (expected e.g. 2026-11-25T18:40:00Z)") from None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def plot_drift(series: Mapping[str, Sequence[Any]], *, title: str = "Verification history: drift over time") -> Figure:
    """One line per check series (label → points with ``time_utc``, ``value``, ``limit``,
    ``uncertainty``, ``verdict``, ``unit``), grouped into one panel per unit; the ±limit is
    drawn dashed, the uncertainty as a shaded band; failed points are red crosses."""
    groups: dict[str, list[tuple[str, Sequence[Any]]]] = {}
    for label, pts in series.items():
        if not pts:
            continue
        unit = str(_get(pts[0], "unit", "") or "dB")
        groups.setdefault(unit, []).append((label, pts))
    if not groups:
        raise SignalError("no verification history to plot; run `roomtruth verify` at least once")
    units = list(groups)[:3]
    with house_style():
        fig, axes = new_figure(len(units), 1, height_in=2.0 + 1.5 * len(units), sharex=True, left=0.11)
        for row, unit in enumerate(units):
            ax = axes[row, 0]
            limit_drawn = False
            for i, (label, pts) in enumerate(groups[unit]):
                t = date2num([parse_utc(_get(p, "time_utc")) for p in pts])
                v = np.array([float(_get(p, "value", np.nan)) for p in pts], dtype=np.float64)
                u = np.array([float(_get(p, "uncertainty", np.nan)) for p in pts], dtype=np.float64)
                lim = np.array([float(_get(p, "limit", np.nan)) for p in pts], dtype=np.float64)
                name = label.split()[-1]
                colour = channel_colour(name, i)
                ax.plot(t, v, marker="o", markersize=3.5, color=colour, linewidth=1.2, label=label)
                if np.isfinite(u).any():
                    uu = np.where(np.isfinite(u), u, 0.0)
                    ax.fill_between(t, v - uu, v + uu, color=colour, alpha=0.15, linewidth=0)
                if np.isfinite(lim).any() and not limit_drawn:
                    ax.plot(t, np.abs(lim), color=PALETTE["red"], linestyle="--", linewidth=1.0, label="limit")
                    ax.plot(t, -np.abs(lim), color=PALETTE["red"], linestyle="--", linewidth=1.0)
                    limit_drawn = True
                bad = np.array([str(_get(p, "verdict", "")) == "fail" for p in pts])
                if bad.any():
                    ax.plot(t[bad], v[bad], marker="x", color=PALETTE["red"], linestyle="none", markersize=7)
            ax.axhline(0.0, color=PALETTE["muted"], linewidth=0.7)
            ax.set_ylabel(_UNIT_LABEL.get(unit, f"Value ({unit})"))
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi + 0.35 * (hi - lo))  # headroom for the legend above the data
            ax.legend(loc="upper left", ncol=4, fontsize=7)
            if row < len(units) - 1:
                hide_x_labels(ax)
            else:
                loc = AutoDateLocator()
                ax.xaxis.set_major_locator(loc)
                ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
                ax.set_xlabel("Verification time (UTC)")
        axes[0, 0].set_title(title)
    return fig
