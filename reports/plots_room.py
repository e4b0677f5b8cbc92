"""Room plots: decay per band against the standard's tolerance, the mode map (detected vs
predicted), distortion per harmonic, and the background-noise spectrum against NR curves."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from calib.errors import SignalError
from reports.style import PALETTE, channel_colour, format_hz, frequency_axis, hide_x_labels, house_style, new_figure

__all__ = [
    "NR_BANDS_HZ",
    "NR_A_DB",
    "NR_B",
    "nr_curve_db",
    "plot_decay",
    "plot_mode_map",
    "plot_distortion",
    "plot_noise",
]

#: NR curve coefficients per octave band, ``L = A_f + B_f·NR`` (AS 1469 / ISO R1996 form,
#: STANDARDS.md §3.9, tagged [S]).
NR_BANDS_HZ = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
NR_A_DB = (55.4, 35.5, 22.0, 12.0, 4.8, 0.0, -3.5, -6.1, -8.0)
NR_B = (0.681, 0.790, 0.870, 0.930, 0.974, 1.000, 1.015, 1.025, 1.030)

_KIND_COLOUR = {"axial": PALETTE["red"], "tangential": PALETTE["orange"], "oblique": PALETTE["muted"]}


def nr_curve_db(nr: float) -> np.ndarray:
    """Octave-band levels (dB SPL) of the NR ``nr`` curve at :data:`NR_BANDS_HZ`."""
    return np.asarray(NR_A_DB) + np.asarray(NR_B) * float(nr)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _finite(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def plot_decay(bands_hz: Sequence[float], decay_s: Mapping[str, Sequence[float | None]], *, tm_s: float | None,
               mask_hz: Sequence[float] | None = None, mask_lower_s: Sequence[float] | None = None,
               mask_upper_s: Sequence[float] | None = None, title: str = "Reverberation time per band") -> Figure:
    """Decay time per band (one marker line per series, e.g. ``{"T30 L": [...], "EDT L": [...]}``)
    against the tolerance mask around the target ``tm_s`` (EBU Tech 3276 / BS.1116, mask
    offsets in seconds relative to ``tm_s``; STANDARDS.md §3.2).  ``None``/NaN values (not
    enough dynamic range) are left out and said so in the legend."""
    f = np.asarray(bands_hz, dtype=np.float64)
    if f.size == 0:
        raise SignalError("no decay bands to plot")
    with house_style():
        fig, axes = new_figure(height_in=3.4)
        ax = axes[0, 0]
        if tm_s is not None and np.isfinite(tm_s):
            if mask_hz is not None and mask_lower_s is not None and mask_upper_s is not None:
                mf = np.asarray(mask_hz, dtype=np.float64)
                ax.fill_between(mf, tm_s + np.asarray(mask_lower_s, dtype=np.float64),
                                tm_s + np.asarray(mask_upper_s, dtype=np.float64), color=PALETTE["band"], linewidth=0,
                                label="Tech 3276 tolerance")
            ax.axhline(tm_s, color=PALETTE["target"], linestyle="--", linewidth=1.1, label=f"Tm = {tm_s:.2f} s")
        markers = "osd^v<>"
        top = 0.0
        ringed = False
        for i, (label, values) in enumerate(decay_s.items()):
            v = np.array([_finite(x) for x in values], dtype=np.float64)
            if v.shape != f.shape:
                raise SignalError(f"decay series {label!r} has {v.size} values for {f.size} bands")
            n_missing = int(np.sum(~np.isfinite(v)))
            name = label.split()[-1] if " " in label else ""
            colour = channel_colour(name, i) if name else None
            style = "-" if label.upper().startswith("T") else ":"
            ax.plot(f, v, marker=markers[i % len(markers)], linestyle=style, markersize=4, color=colour,
                    label=label + (f" ({n_missing} bands without enough range)" if n_missing else ""))
            if np.isfinite(v).any():
                top = max(top, float(np.nanmax(v)))
            if style == "-" and tm_s is not None and np.isfinite(tm_s) and mask_hz is not None \
                    and mask_lower_s is not None and mask_upper_s is not None:
                # ring the bands outside the tolerance (mask interpolated on log frequency)
                lf = np.log10(np.asarray(mask_hz, dtype=np.float64))
                lo = tm_s + np.interp(np.log10(f), lf, np.asarray(mask_lower_s, dtype=np.float64))
                hi = tm_s + np.interp(np.log10(f), lf, np.asarray(mask_upper_s, dtype=np.float64))
                inside_range = (f >= 10 ** lf[0] * 0.99) & (f <= 10 ** lf[-1] * 1.01)
                bad = np.isfinite(v) & inside_range & ((v > hi + 1e-9) | (v < lo - 1e-9))
                if bad.any() and not ringed:
                    ringed = True
                    ax.plot(f[bad], v[bad], marker="o", markersize=9, markerfacecolor="none", linestyle="none",
                            markeredgecolor=PALETTE["red"], markeredgewidth=1.2, label="outside the tolerance")
        frequency_axis(ax, max(20.0, f[0] / 1.4), min(20_000.0, f[-1] * 1.4))
        ax.set_ylabel("Decay time (s)")
        upper = max(top, (tm_s or 0.0) + 0.35) * 1.15
        ax.set_ylim(0.0, upper)
        ax.set_title(title)
        ax.legend(loc="upper right", ncol=2)
    return fig


def plot_mode_map(modes: Sequence[Any], predicted: Sequence[Any], *, lf_freqs_hz: np.ndarray | None = None,
                  lf_level_db: Mapping[str, np.ndarray] | None = None, schroeder_hz: float | None = None,
                  lo_hz: float = 15.0, hi_hz: float = 300.0) -> Figure:
    """Detected modes (frequency, level above the local average, T60) over the low-frequency
    response, and the modes predicted from the room's dimensions (Rayleigh) as stems below,
    coloured axial / tangential / oblique.

    ``modes``: mappings/objects with ``freq_hz``, ``level_db`` and optionally ``t60_s``.
    ``predicted``: mappings/objects with ``freq_hz``, ``kind`` (axial|tangential|oblique) and
    optionally ``indices`` (nx, ny, nz)."""
    with house_style():
        fig, axes = new_figure(2, 1, height_in=4.6, sharex=True, height_ratios=(3, 1.3), left=0.1)
        ax, ax_p = axes[0, 0], axes[1, 0]
        if lf_freqs_hz is not None and lf_level_db:
            for i, (name, lev) in enumerate(lf_level_db.items()):
                ax.plot(lf_freqs_hz, lev, color=channel_colour(name, i), linewidth=1.1, alpha=0.85,
                        label=f"response {name}")
            ref = np.nanmedian(np.concatenate([np.asarray(v) for v in lf_level_db.values()]))
        else:
            ref = 0.0
        ymax = ref
        levels = sorted((_finite(_get(m, "level_db")) for m in modes), reverse=True)
        # label the (at most 6) most prominent modes that reach 3 dB, the findings' threshold
        annotate_min = max(levels[min(5, len(levels) - 1)] if levels else 0.0, 3.0)
        labels: list[tuple[float, float, str]] = []
        for j, m in enumerate(modes):
            fm = _finite(_get(m, "freq_hz"))
            lv = _finite(_get(m, "level_db"))
            if not (np.isfinite(fm) and lo_hz <= fm <= hi_hz):
                continue
            t60 = _finite(_get(m, "t60_s"))
            lv0 = lv if np.isfinite(lv) else 0.0
            if lf_freqs_hz is not None and lf_level_db:
                # the marker sits on the (first) response curve; the stem spans the
                # prominence down to the local average
                y = float(np.interp(fm, lf_freqs_hz, next(iter(lf_level_db.values()))))
            else:
                y = ref + lv0
            ymax = max(ymax, y)
            ax.plot([fm, fm], [y - lv0, y], color=PALETTE["red"], linewidth=1.2)
            ax.plot([fm], [y], marker="o", color=PALETTE["red"], markersize=5,
                    label="detected mode" if j == 0 else None)
            note = f"{fm:.0f} Hz +{lv:.0f} dB" if np.isfinite(lv) else f"{fm:.0f} Hz"
            if np.isfinite(t60):
                note += f", {t60:.2f} s"
            if np.isfinite(lv) and lv >= annotate_min:
                labels.append((fm, y, note))
        # labels above their marker, stacked in rows when neighbours (less than ~0.15 decade
        # apart) would overlap; the axis grows to hold them
        rows_end: list[float] = []
        merged: list[tuple[float, float, str]] = []
        for fm, y, note in sorted(labels):  # the same mode seen by two speakers: one label
            if merged and fm <= merged[-1][0] * 1.04:
                continue
            merged.append((fm, y, note))
        for fm, y, note in merged:
            row = next((i for i, end in enumerate(rows_end) if np.log10(fm) > end), len(rows_end))
            if row == len(rows_end):
                rows_end.append(-np.inf)
            rows_end[row] = np.log10(fm) + 0.04 * len(note) / 6
            ax.annotate(note, (fm, y), textcoords="offset points", xytext=(-4, 6 + 11 * row), fontsize=7,
                        color=PALETTE["red"], ha="left",
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.3},
                        arrowprops={"arrowstyle": "-", "color": PALETTE["red"], "linewidth": 0.5} if row else None)
            ymax = max(ymax, y + 3.0 * (row + 1))
        if schroeder_hz is not None and np.isfinite(schroeder_hz) and lo_hz < schroeder_hz < hi_hz:
            for a in (ax, ax_p):
                a.axvline(schroeder_hz, color=PALETTE["purple"], linestyle=":", linewidth=1.2)
            ax.annotate(f"Schroeder {schroeder_hz:.0f} Hz", (schroeder_hz, 0.04), xycoords=("data", "axes fraction"),
                        textcoords="offset points", xytext=(3, 0), fontsize=7, color=PALETTE["purple"])
        ax.set_ylabel("Level (dB)")
        lo_y = ax.get_ylim()[0]
        ax.set_ylim(lo_y, ymax + 6.0)  # headroom: labels stay inside the axes, under the title
        ax.set_title("Room modes: detected (above) and predicted from the dimensions (below)")
        ax.legend(loc="lower left", ncol=3)
        frequency_axis(ax, lo_hz, hi_hz, label=False)
        hide_x_labels(ax)
        heights = {"axial": 3.0, "tangential": 2.0, "oblique": 1.0}
        by_kind: dict[str, list[float]] = {}
        labelled: list[float] = []
        for p in predicted:
            fp = _finite(_get(p, "freq_hz"))
            if not (np.isfinite(fp) and lo_hz <= fp <= hi_hz):
                continue
            kind = str(_get(p, "kind", "oblique") or "oblique")
            by_kind.setdefault(kind, []).append(fp)
            idx = _get(p, "indices", None)
            # label the axial modes while they are sparse enough to read (no two within 8 %)
            if kind == "axial" and idx is not None and all(abs(fp / q - 1) > 0.08 for q in labelled) \
                    and fp <= (schroeder_hz or hi_hz) * 1.2:
                labelled.append(fp)
                ax_p.annotate("".join(str(int(i)) for i in idx), (fp, heights["axial"]), textcoords="offset points",
                              xytext=(-6, 2), fontsize=6.5, color=PALETTE["red"])
        for kind in ("oblique", "tangential", "axial"):  # one collection per kind: fast with hundreds of modes
            if kind in by_kind:
                ax_p.vlines(by_kind[kind], 0, heights.get(kind, 1.0), colors=_KIND_COLOUR.get(kind, PALETTE["muted"]),
                            linewidth=1.2, label=kind)
        ax_p.set_ylim(0, 4.2)
        ax_p.set_yticks([1, 2, 3])
        ax_p.set_yticklabels(["obl.", "tan.", "axial"])
        ax_p.set_ylabel("Mode type (class)")
        ax_p.legend(loc="upper right", ncol=3, fontsize=7)
        frequency_axis(ax_p, lo_hz, hi_hz)
    return fig


def plot_distortion(freqs_hz: np.ndarray, harmonics_db: Mapping[int, np.ndarray], *, channel: str,
                    thd_db: np.ndarray | None = None, lo_hz: float = 20.0, hi_hz: float = 10_000.0,
                    limits: Sequence[tuple[float, float, float]] = ((20.0, 250.0, -30.0), (250.0, 20_000.0, -40.0))) -> Figure:
    """Level of each harmonic (H2, H3, ...) relative to the fundamental (dB) versus the
    fundamental's frequency, with THD when given, and the BS.1116 monitor limits drawn as
    steps (``limits``: (lo_hz, hi_hz, level_db); default −30 dB below 250 Hz and −40 dB above,
    STANDARDS.md §3.8, [U])."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    with house_style():
        fig, axes = new_figure(height_in=3.4, right=0.91)
        ax = axes[0, 0]
        for lo, hi, lev in limits:
            ax.plot([max(lo, lo_hz), min(hi, hi_hz)], [lev, lev], color=PALETTE["red"], linestyle="--", linewidth=1.0)
        ax.plot([], [], color=PALETTE["red"], linestyle="--", label="BS.1116 limit")
        colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["muted"]]
        for j, (k, lev) in enumerate(sorted(harmonics_db.items())):
            lev = np.asarray(lev, dtype=np.float64)
            if lev.shape != f.shape:
                raise SignalError(f"harmonic H{k} has {lev.size} points for {f.size} frequencies")
            ax.plot(f, lev, color=colours[j % len(colours)], linewidth=1.1, label=f"H{k}")
        if thd_db is not None:
            ax.plot(f, thd_db, color=PALETTE["ink"], linewidth=1.6, label="THD")
        frequency_axis(ax, lo_hz, hi_hz)
        ax.set_ylabel("Level re fundamental (dB)")
        ax.set_ylim(-90, -10)
        sec = ax.secondary_yaxis("right", functions=(lambda d: 100 * 10 ** (np.asarray(d) / 20.0),
                                                     lambda p: 20 * np.log10(np.maximum(np.asarray(p), 1e-9) / 100)))
        sec.set_ylabel("Distortion (%)")
        sec.set_yticks([0.01, 0.1, 1, 3, 10])
        sec.set_yticklabels(["0.01", "0.1", "1", "3", "10"])
        ax.set_title(f"Harmonic distortion per harmonic, speaker {channel}")
        ax.legend(loc="upper right", ncol=3)
    return fig


def plot_noise(bands_hz: Sequence[float], levels_db_spl: Sequence[float], *, rating_nr: float | None = None,
               curves: Sequence[int] = (10, 15, 20, 25, 30), limit_nr: float = 15.0, preferred_nr: float = 10.0,
               calibrated: bool = True) -> Figure:
    """Background noise in octave bands against NR curves (STANDARDS.md §3.6/§3.9).

    ``calibrated=False`` labels the levels as relative (no SPL calibration was applied)."""
    f = np.asarray(bands_hz, dtype=np.float64)
    lev = np.asarray(levels_db_spl, dtype=np.float64)
    if f.shape != lev.shape or f.size == 0:
        raise SignalError(f"noise levels ({lev.size}) and bands ({f.size}) must match and be non-empty")
    nf = np.asarray(NR_BANDS_HZ)
    with house_style():
        fig, axes = new_figure(height_in=3.4)
        ax = axes[0, 0]
        for nr in (curves if calibrated else ()):  # NR curves are dB SPL: meaningless without calibration
            emphasis = nr in (limit_nr, preferred_nr)
            ax.plot(nf, nr_curve_db(nr), color=PALETTE["red"] if nr == limit_nr else
                    (PALETTE["green"] if nr == preferred_nr else PALETTE["muted"]),
                    linewidth=1.3 if emphasis else 0.7, linestyle="-" if emphasis else ":")
            ax.annotate(f"NR {nr}", (nf[-1], nr_curve_db(nr)[-1]), textcoords="offset points", xytext=(3, -3),
                        fontsize=7, color=PALETTE["muted"])
        label = "background noise" + (f" (NR {rating_nr:.0f})" if rating_nr is not None and np.isfinite(rating_nr) else "")
        ax.plot(f, lev, marker="s", color=PALETTE["blue"], linewidth=1.8, label=label)
        frequency_axis(ax, 25.0, 11_000.0)
        ax.set_ylabel("Octave-band level (dB SPL)" if calibrated else "Octave-band level (dBFS)")
        if calibrated:
            ax.set_ylim(min(-10.0, float(np.nanmin(lev)) - 5), max(75.0, float(np.nanmax(lev)) + 5))
            ax.set_title("Background noise against NR curves (≤ NR 15 required, ≤ NR 10 preferred)")
        else:
            lo, hi = float(np.nanmin(lev)), float(np.nanmax(lev))
            ax.set_ylim(lo - 5.0, hi + 0.3 * max(hi - lo, 10.0))
            ax.set_title("Background noise (no SPL calibration: levels in dBFS, not rated against NR)")
        ax.legend(loc="upper right")
    return fig


def predicted_label(indices: Sequence[int]) -> str:
    """``(1, 0, 0)`` → ``"1,0,0"`` (for tables)."""
    return ",".join(str(int(i)) for i in indices)


def format_band(f_hz: float) -> str:
    return format_hz(f_hz)
