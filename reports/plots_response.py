"""Frequency-domain plots: response with smoothing, before/after/target with the tolerance
band, phase and group delay, and the left/right difference.

Every function returns a :class:`matplotlib.figure.Figure` in the house style (Agg), with a
unit on every axis.  Inputs are the core types of ``calib.types`` or plain arrays with units
in their names; nothing here analyses the room, it draws.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from calib.errors import SignalError
from calib.types import ImpulseResponse
from reports.curves import log_grid_hz, magnitude_response, smooth_octave
from reports.style import PALETTE, channel_colour, frequency_axis, hide_x_labels, house_style, new_figure

__all__ = [
    "plot_response",
    "plot_before_after",
    "plot_phase_group_delay",
    "plot_lr_difference",
    "smoothed_db",
]


def _label_fraction(fraction: float) -> str:
    return "unsmoothed" if fraction <= 0 else f"1/{fraction:g} oct"


def smoothed_db(x: np.ndarray, *, fs: int, fraction: float, lo_hz: float = 20.0, hi_hz: float = 20_000.0,
                per_octave: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """An IR's magnitude (dB) smoothed to 1/``fraction`` octave on a log grid ``lo..hi`` Hz."""
    f, m = magnitude_response(x, fs=fs)
    hi = min(hi_hz, fs / 2 * 0.999)
    return smooth_octave(f, m, fraction=fraction, out_hz=log_grid_hz(lo_hz, hi, per_octave=per_octave))


def _display_hi(fs: int, hi_hz: float) -> float:
    return min(hi_hz, fs / 2 * 0.999)


def plot_response(ir: ImpulseResponse, *, fraction: float = 6, lo_hz: float = 20.0, hi_hz: float = 20_000.0,
                  title: str = "Frequency response at the listening position") -> Figure:
    """Each channel's magnitude response: unsmoothed (thin, light) and smoothed (bold).

    Levels are dB re unity gain of the measurement chain (an identity room reads 0 dB).
    """
    hi = _display_hi(ir.fs, hi_hz)
    with house_style():
        fig, axes = new_figure()
        ax = axes[0, 0]
        lo_db, hi_db = np.inf, -np.inf
        for i, name in enumerate(ir.channel_names):
            colour = channel_colour(name, i)
            f_raw, m_raw = smoothed_db(ir.samples[i], fs=ir.fs, fraction=48, lo_hz=lo_hz, hi_hz=hi, per_octave=96)
            f_s, m_s = smoothed_db(ir.samples[i], fs=ir.fs, fraction=fraction, lo_hz=lo_hz, hi_hz=hi)
            ax.plot(f_raw, m_raw, color=colour, alpha=0.3, linewidth=0.7)
            ax.plot(f_s, m_s, color=colour, label=f"{name} ({_label_fraction(fraction)})")
            band = (f_s >= 40) & (f_s <= 16_000)
            lo_db = min(lo_db, float(np.min(m_s[band])) if band.any() else float(m_s.min()))
            hi_db = max(hi_db, float(np.max(m_raw)))
        frequency_axis(ax, lo_hz, hi)
        ax.set_ylabel("Level (dB re unity)")
        ax.set_ylim(np.floor(lo_db / 5) * 5 - 10, np.ceil(hi_db / 5) * 5 + 3)
        ax.set_title(title)
        ax.legend(loc="lower left", ncol=max(1, len(ir.channel_names)))
    return fig


def plot_before_after(freqs_hz: np.ndarray, before_db: np.ndarray, after_db: np.ndarray | None, *,
                      target_db: np.ndarray, tol_lower_db: np.ndarray, tol_upper_db: np.ndarray,
                      channel: str, lo_hz: float = 20.0, hi_hz: float = 20_000.0,
                      smoothing_label: str = "1/6 oct") -> Figure:
    """Before (measured), after (corrected) and target, with the tolerance band around the
    target shaded.  All arrays are on the same grid ``freqs_hz``; ``tol_*_db`` are offsets
    from the target (dB, lower ≤ 0 ≤ upper)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    arrays = {"before_db": before_db, "target_db": target_db, "tol_lower_db": tol_lower_db, "tol_upper_db": tol_upper_db}
    if after_db is not None:
        arrays["after_db"] = after_db
    for key, arr in arrays.items():
        if np.shape(arr) != f.shape:
            raise SignalError(f"{key} has shape {np.shape(arr)}, expected {f.shape} like freqs_hz")
    tgt = np.asarray(target_db, dtype=np.float64)
    with house_style():
        fig, axes = new_figure()
        ax = axes[0, 0]
        ax.fill_between(f, tgt + np.asarray(tol_lower_db), tgt + np.asarray(tol_upper_db), color=PALETTE["band"],
                        alpha=0.8, linewidth=0, label="tolerance")
        ax.plot(f, tgt, color=PALETTE["target"], linestyle="--", linewidth=1.2, label="target")
        ax.plot(f, before_db, color=PALETTE["muted"], linewidth=1.2, label=f"before ({smoothing_label})")
        if after_db is not None:
            ax.plot(f, after_db, color=channel_colour(channel), linewidth=1.6, label=f"after ({smoothing_label})")
        frequency_axis(ax, max(lo_hz, float(f[0])), min(hi_hz, float(f[-1])))
        ax.set_ylabel("Level (dB re target level)")
        finite = np.concatenate([np.asarray(before_db)[np.isfinite(before_db)], tgt])
        ax.set_ylim(np.floor(np.percentile(finite, 1) / 5) * 5 - 5, np.ceil(np.max(finite) / 5) * 5 + 5)
        ax.set_title(f"Speaker {channel}: before and after correction, against the target")
        ax.legend(loc="lower left", ncol=4)
    return fig


def plot_phase_group_delay(ir: ImpulseResponse, *, lo_hz: float = 20.0, hi_hz: float = 20_000.0,
                           cycles: float = 15.0) -> Figure:
    """Phase (degrees, time of flight removed) and group delay (ms) per channel, two panels.

    Both come from the frequency-dependent-windowed response (:func:`reports.curves.
    fdw_response`, ``cycles`` periods per frequency): the phase and delay of the speaker and
    the early room, not of the reverberant tail (a full-length room IR makes the phase noise
    above a few hundred hertz and its power-weighted group delay the room's centre time).
    Group delay ``τ = −dφ/dω`` on the plotted grid."""
    from reports.curves import fdw_response

    hi = _display_hi(ir.fs, hi_hz)
    grid = log_grid_hz(lo_hz, hi, per_octave=24)
    with house_style():
        fig, axes = new_figure(2, 1, height_in=4.6, sharex=True)
        ax_p, ax_g = axes[0, 0], axes[1, 0]
        for i, name in enumerate(ir.channel_names):
            colour = channel_colour(name, i)
            arrival = ir.arrival_samples[i] if i < len(ir.arrival_samples) else float(np.argmax(np.abs(ir.samples[i])))
            h = fdw_response(ir.samples[i], fs=ir.fs, freqs_hz=grid, delay_samples=float(arrival), cycles=cycles)
            phase = np.unwrap(np.angle(h))
            ax_p.plot(grid, np.degrees(np.angle(h)), color=colour, linewidth=1.0, label=name)
            gd_s = -np.gradient(phase, 2.0 * np.pi * grid)
            ax_g.plot(grid, gd_s * 1000.0, color=colour, linewidth=1.1, label=name)
        ax_p.set_ylabel("Phase (degrees)")
        ax_p.set_ylim(-185, 185)
        ax_p.set_yticks([-180, -90, 0, 90, 180])
        ax_p.set_title(f"Phase and group delay re the direct sound ({cycles:g}-cycle window)")
        ax_p.legend(loc="upper right", ncol=len(ir.channel_names))
        frequency_axis(ax_p, lo_hz, hi, label=False)
        hide_x_labels(ax_p)
        frequency_axis(ax_g, lo_hz, hi)
        ax_g.set_ylabel("Group delay (ms)")
        lo_g, hi_g = ax_g.get_ylim()
        ax_g.set_ylim(max(lo_g, -20.0), min(max(hi_g, 10.0), 150.0))
    return fig


def plot_lr_difference(ir: ImpulseResponse, *, pair: Sequence[str] = ("L", "R"), fraction: float = 3,
                       lo_hz: float = 20.0, hi_hz: float = 20_000.0, tolerance_db: float = 1.0,
                       tolerance_band_hz: tuple[float, float] = (250.0, 2000.0)) -> Figure:
    """Level difference first − second of a speaker pair (dB), 1/``fraction`` octave, with the
    matching tolerance shaded over the band where it applies (default ±1 dB, 250 Hz–2 kHz,
    STANDARDS.md §3.4/§3.8)."""
    a, b = pair
    try:
        ia, ib = ir.channel_names.index(a), ir.channel_names.index(b)
    except ValueError:
        raise SignalError(f"speaker pair {a}/{b} not in the measurement's channels {', '.join(ir.channel_names)}") from None
    hi = _display_hi(ir.fs, hi_hz)
    f, ma = smoothed_db(ir.samples[ia], fs=ir.fs, fraction=fraction, lo_hz=lo_hz, hi_hz=hi)
    _, mb = smoothed_db(ir.samples[ib], fs=ir.fs, fraction=fraction, lo_hz=lo_hz, hi_hz=hi)
    diff = ma - mb
    with house_style():
        fig, axes = new_figure(height_in=3.0)
        ax = axes[0, 0]
        lo_b, hi_b = tolerance_band_hz
        ax.fill_between([lo_b, hi_b], [-tolerance_db] * 2, [tolerance_db] * 2, color=PALETTE["band"],
                        linewidth=0, label=f"±{tolerance_db:g} dB matching tolerance")
        ax.axhline(0.0, color=PALETTE["muted"], linewidth=0.8)
        ax.plot(f, diff, color=PALETTE["purple"], label=f"{a} − {b} ({_label_fraction(fraction)})")
        frequency_axis(ax, lo_hz, hi)
        ax.set_ylabel("Level difference (dB)")
        lim = max(3.0, float(np.ceil(np.max(np.abs(diff[(f > 30) & (f < 16_000)])) + 1))) if f.size else 6.0
        ax.set_ylim(-lim, lim)
        ax.set_title(f"Left/right difference ({a} − {b})")
        ax.legend(loc="lower left", ncol=2)
    return fig


def response_summary_db(ir: ImpulseResponse, *, fraction: float = 6,
                        lo_hz: float = 20.0, hi_hz: float = 20_000.0) -> Mapping[str, tuple[np.ndarray, np.ndarray]]:
    """``{channel: (freqs_hz, smoothed_db)}`` for every channel (used by the report tables)."""
    hi = _display_hi(ir.fs, hi_hz)
    return {n: smoothed_db(ir.samples[i], fs=ir.fs, fraction=fraction, lo_hz=lo_hz, hi_hz=hi)
            for i, n in enumerate(ir.channel_names)}
