"""The house style of every roomtruth plot.

One look for every figure: Agg rendering (no display, no GUI toolkit, thread-safe because no
``pyplot`` state is used), a modest DPI so a figure renders in about 100 ms, a quiet palette
that survives a black-and-white print, and **units on every axis** (``check_units`` enforces
it in the tests).  Figures are built with :class:`matplotlib.figure.Figure` directly rather
than through ``pyplot``, so nothing is kept alive between reports.
"""

from __future__ import annotations

import base64
import io
import re
from contextlib import contextmanager
from typing import Iterator, Sequence

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402

__all__ = [
    "PALETTE",
    "CHANNEL_COLOURS",
    "HOUSE_RC",
    "DPI",
    "house_style",
    "new_figure",
    "frequency_axis",
    "format_hz",
    "figure_to_png",
    "figure_to_base64_png",
    "figure_to_svg",
    "check_units",
    "hide_x_labels",
    "channel_colour",
]

#: DPI of the embedded PNGs.  A 7.2 in figure at 130 dpi is 936 px, the width the report's
#: column shows it at (1040 px page minus paddings), so it is not upscaled and blurred as a
#: 691 px (96 dpi) image was; ~10 % more drawing time, ~60-120 kB per figure.
DPI = 130

PALETTE = {
    "ink": "#1f2430",
    "grid": "#d9dce3",
    "muted": "#7a8194",
    "blue": "#2f6db3",
    "orange": "#d9822b",
    "green": "#3c8d5a",
    "red": "#c23b3b",
    "purple": "#7b5ea7",
    "band": "#cfe3d4",      # tolerance bands (pass region)
    "warn": "#f2d7a6",
    "target": "#3c8d5a",
}

CHANNEL_COLOURS = {"L": PALETTE["blue"], "R": PALETTE["orange"], "C": PALETTE["green"],
                   "SUB": PALETTE["purple"], "LFE": PALETTE["purple"]}
_CYCLE = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["red"],
          "#4a9fb5", "#a0522d"]

HOUSE_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.0,
    "axes.edgecolor": PALETTE["muted"],
    "axes.labelcolor": PALETTE["ink"],
    "axes.grid": True,
    "axes.grid.which": "both",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=_CYCLE),
    "grid.color": PALETTE["grid"],
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.4,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "xtick.color": PALETTE["ink"],
    "ytick.color": PALETTE["ink"],
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",
    "path.simplify": True,
    "agg.path.chunksize": 20000,
}

_HZ_TICKS = (10, 20, 31.5, 50, 63, 100, 125, 200, 250, 500, 1000, 2000, 4000, 5000, 8000, 10000,
             16000, 20000)
_UNIT_RE = re.compile(r"\((?:[^()]+)\)\s*$")


def channel_colour(name: str, index: int = 0) -> str:
    """The colour a channel always has in every plot (L blue, R orange...)."""
    return CHANNEL_COLOURS.get(name.upper(), _CYCLE[index % len(_CYCLE)])


@contextmanager
def house_style() -> Iterator[None]:
    """Context in which figures are created and drawn with the house rcParams."""
    with rc_context(HOUSE_RC):
        yield


def new_figure(n_rows: int = 1, n_cols: int = 1, *, width_in: float = 7.2, height_in: float = 3.4,
               sharex: bool = False, height_ratios: Sequence[float] | None = None,
               projection: str | None = None, right: float = 0.975, left: float = 0.085,
               hspace: float = 0.12) -> tuple[Figure, np.ndarray]:
    """A new Agg figure in the house style.

    Must be called inside :func:`house_style` so the rcParams apply to the axes.

    Returns
    -------
    fig : Figure
    axes : ndarray of Axes, shape (n_rows, n_cols)
    """
    # fixed margins instead of the constrained layout engine: same look for our figure
    # sizes, half the drawing time (constrained layout draws every figure twice)
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    kw = {}
    if height_ratios is not None:
        kw["gridspec_kw"] = {"height_ratios": list(height_ratios)}
    subplot_kw = {"projection": projection} if projection else None
    axes = fig.subplots(n_rows, n_cols, sharex=sharex, squeeze=False, subplot_kw=subplot_kw, **kw)
    bottom = 0.45 / height_in + 0.03
    top = 1.0 - 0.32 / height_in
    if projection == "3d":
        fig.subplots_adjust(left=0.0, right=1.0, bottom=0.0, top=0.94)
    else:
        fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, hspace=hspace)
    return fig, axes


def format_hz(value_hz: float) -> str:
    """A frequency as a short label: ``47 Hz``, ``1.2k``, ``20k`` (for ticks, without unit)."""
    v = float(value_hz)
    if v >= 1000:
        k = v / 1000.0
        return f"{k:.0f}k" if abs(k - round(k)) < 1e-9 else f"{k:.1f}k"
    if abs(v - round(v)) < 1e-9:
        return f"{v:.0f}"
    return f"{v:.1f}"


def frequency_axis(ax, lo_hz: float = 20.0, hi_hz: float = 20_000.0, *, label: bool = True) -> None:
    """Log frequency axis from ``lo_hz`` to ``hi_hz`` with readable tick labels in Hz."""
    ax.set_xscale("log")
    ax.set_xlim(lo_hz, hi_hz)
    ticks = [t for t in _HZ_TICKS if lo_hz <= t <= hi_hz]
    # keep labels from colliding on a narrow range: drop the "in between" ticks on wide spans
    if hi_hz / lo_hz > 200:
        ticks = [t for t in ticks if t in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_hz(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    # the 2..9 × 10^k grid lines as one collection instead of ~30 minor Tick objects (each
    # a set of Line2D and Text artists): the same look, about a quarter less drawing time
    ax.xaxis.set_minor_locator(NullLocator())
    xs = [m * 10.0 ** e for e in range(0, 6) for m in range(2, 10)]
    xs = [x for x in xs if lo_hz < x < hi_hz and x not in ticks]
    if xs:
        ax.add_collection(LineCollection([[(x, 0.0), (x, 1.0)] for x in xs], transform=ax.get_xaxis_transform(),
                                         colors=PALETTE["grid"], linewidths=0.6, zorder=0.5), autolim=False)
    if label:
        ax.set_xlabel("Frequency (Hz)")


def figure_to_png(fig: Figure, *, dpi: int = DPI) -> bytes:
    """PNG bytes of a figure (Agg)."""
    buf = io.BytesIO()
    with house_style():
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_to_base64_png(fig: Figure, *, dpi: int = DPI) -> str:
    """``data:image/png;base64,...`` URI of a figure, for embedding in HTML."""
    return "data:image/png;base64," + base64.b64encode(figure_to_png(fig, dpi=dpi)).decode("ascii")


def figure_to_svg(fig: Figure) -> str:
    """Inline SVG text of a figure (no XML prolog, no external references)."""
    buf = io.StringIO()
    with house_style():
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def hide_x_labels(ax) -> None:
    """Hide the x tick labels of an axes sitting above another one that shares its x axis.

    :func:`check_units` then accepts the missing x label (the axes below carries it).
    """
    ax.tick_params(labelbottom=False)
    ax.set_xlabel("")
    ax._roomtruth_shared_x = True


def check_units(fig: Figure) -> list[str]:
    """Axes of ``fig`` whose x or y label lacks a unit in parentheses, e.g. ``"Level (dB)"``.

    Colour bars count as axes too.  An axes whose x labels were hidden with
    :func:`hide_x_labels` needs no x label.  Returns a list of problems (empty when every
    axis is labelled with its unit).
    """
    problems = []
    for i, ax in enumerate(fig.get_axes()):
        if not ax.get_visible() or not ax.axison:
            continue
        title = ax.get_title() or f"axes {i}"
        labels = [("y", ax.get_ylabel())]
        if not getattr(ax, "_roomtruth_shared_x", False):
            labels.insert(0, ("x", ax.get_xlabel()))
        if hasattr(ax, "get_zlabel"):
            labels.append(("z", ax.get_zlabel()))
        cbar_axis = getattr(ax, "_colorbar", None)
        if cbar_axis is not None:  # a colour bar has one meaningful axis
            labels = [(w, lab) for w, lab in labels if lab] or [("colour bar", "")]
        for which, label in labels:
            if not label or not _UNIT_RE.search(label.strip()):
                problems.append(f"{title}: {which} label {label!r} has no unit")
    return problems
