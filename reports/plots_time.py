"""Time-domain and time-frequency plots: the energy-time curve with reflections marked and
named, the waterfall (cumulative spectral decay) and the spectrogram."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from calib.types import ImpulseResponse
from reports.curves import cumulative_spectral_decay, etc_db, spectrogram_db
from reports.style import PALETTE, channel_colour, format_hz, house_style, new_figure

__all__ = ["plot_etc", "plot_waterfall", "plot_spectrogram", "arrival_of"]


def arrival_of(ir: ImpulseResponse, index: int) -> float:
    """Direct-sound arrival (samples) of channel ``index``: the IR's own figure when it has
    one, else the index of the absolute peak."""
    if index < len(ir.arrival_samples):
        return float(ir.arrival_samples[index])
    return float(np.argmax(np.abs(ir.samples[index])))


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def plot_etc(ir: ImpulseResponse, *, channel: str | int = 0, reflections: Sequence[Any] = (),
             length_ms: float = 30.0, criterion_db: float = -10.0, criterion_ms: float = 15.0) -> Figure:
    """Energy-time curve after the direct sound (dB re direct), with each reflection marked
    (arrival ms, level dB, surface name) and the early-reflection criterion of EBU Tech 3276
    drawn as a line (``criterion_db`` within ``criterion_ms``, STANDARDS.md §3.3).

    ``reflections`` are mappings/objects with ``delay_ms``, ``level_db`` and optionally
    ``surface`` (the analysis' reflection list).
    """
    idx = ir.channel_names.index(channel) if isinstance(channel, str) else int(channel)
    name = ir.channel_names[idx]
    t0 = arrival_of(ir, idx)
    t_ms, level = etc_db(ir.samples[idx], fs=ir.fs, start_samples=int(round(t0)), length_s=length_ms / 1000.0)
    with house_style():
        # the reflection key sits in a right margin, outside the data (inside the axes it
        # covered the late part of the curve)
        fig, axes = new_figure(height_in=3.6, right=0.64 if reflections else 0.975)
        ax = axes[0, 0]
        ax.plot(t_ms, level, color=channel_colour(name, idx), linewidth=0.9, label=f"ETC, speaker {name}")
        ax.plot([0, criterion_ms], [criterion_db, criterion_db], color=PALETTE["red"], linestyle="--", linewidth=1.2,
                label=f"Tech 3276: ≤ {criterion_db:g} dB within {criterion_ms:g} ms")
        # number the reflections on the curve and list them in a key: inline labels collide
        # when several surfaces reflect within a millisecond of each other
        listed = []
        for r in sorted(reflections, key=lambda r: float(_get(r, "delay_ms", np.inf) or np.inf)):
            d_ms, l_db = float(_get(r, "delay_ms", np.nan)), float(_get(r, "level_db", np.nan))
            if not (np.isfinite(d_ms) and np.isfinite(l_db)) or d_ms > length_ms or len(listed) >= 9:
                continue
            surface = _get(r, "surface", None) or "unattributed"
            bad = d_ms <= criterion_ms and l_db > criterion_db
            colour = PALETTE["red"] if bad else PALETTE["ink"]
            k = len(listed) + 1
            ax.plot([d_ms], [l_db], marker="v", color=colour, markersize=6, linestyle="none")
            # alternate the number above/below-left so neighbours a fraction of a ms apart stay legible
            off = (-3, 6) if len(listed) % 2 == 0 else (-9, -13)
            ax.annotate(str(k), (d_ms, l_db), textcoords="offset points", xytext=off, fontsize=7.5,
                        color=colour, fontweight="bold")
            listed.append((f"{k:>2} {d_ms:5.1f} ms {l_db:6.1f} dB  {surface}".replace("-", "\u2212"), colour))
        if listed:
            ax.text(1.03, 1.0, "Reflections", transform=ax.transAxes, ha="left", va="top", fontsize=8,
                    fontweight="bold", color=PALETTE["ink"])
            y = 0.92
            for text, colour in listed:
                ax.text(1.03, y, text, transform=ax.transAxes, ha="left", va="top", fontsize=6.8,
                        family="DejaVu Sans Mono", color=colour)
                y -= 0.075
        ax.set_xlim(-2.0, length_ms)
        ax.set_ylim(-60.0, 5.0)
        ax.set_xlabel("Time after the direct sound (ms)")
        ax.set_ylabel("Energy (dB re direct sound)")
        ax.set_title(f"Energy-time curve, speaker {name}: early reflections")
        ax.legend(loc="upper right")
    return fig


def plot_waterfall(ir: ImpulseResponse, *, channel: str | int = 0, lo_hz: float = 20.0, hi_hz: float = 300.0,
                   n_slices: int = 25, step_s: float = 0.02, floor_db: float = -45.0) -> Figure:
    """Cumulative spectral decay (waterfall) of the low end: how long each frequency rings.

    3-D lines, one per slice start time; frequency on a log scale (ticks in Hz)."""
    idx = ir.channel_names.index(channel) if isinstance(channel, str) else int(channel)
    name = ir.channel_names[idx]
    t0 = int(round(arrival_of(ir, idx)))
    times_s, freqs, levels = cumulative_spectral_decay(ir.samples[idx], fs=ir.fs, start_samples=t0, n_slices=n_slices,
                                                       step_s=step_s, lo_hz=lo_hz, hi_hz=hi_hz, fraction=24)
    levels = np.maximum(levels, floor_db)
    logf = np.log10(freqs)
    with house_style():
        fig, axes = new_figure(height_in=4.4, projection="3d")
        ax = axes[0, 0]
        from matplotlib.collections import PolyCollection

        cmap = __import__("matplotlib").colormaps["viridis"]
        # each slice a filled outline (white face, coloured edge) so a slice hides the ones
        # behind it: the classic cumulative-spectral-decay look, instead of tangled lines
        n_sl = len(times_s)
        verts = [[(logf[0], floor_db), *zip(logf, levels[k]), (logf[-1], floor_db)] for k in range(n_sl)]
        edge = [cmap(0.85 * k / max(n_sl - 1, 1)) for k in range(n_sl)]
        poly = PolyCollection(verts, facecolors=(1.0, 1.0, 1.0, 0.92), edgecolors=edge, linewidths=0.9)
        ax.add_collection3d(poly, zs=np.asarray(times_s) * 1000.0, zdir="y")
        ax.set_xlim(logf[0], logf[-1])
        # time runs towards the viewer: the loud first slice stands at the back and every
        # later (lower) slice in front of it stays visible
        ax.set_ylim(float(times_s[-1]) * 1000.0, 0.0)
        ticks = [t for t in (20, 30, 50, 100, 200, 300, 500, 1000) if lo_hz <= t <= hi_hz]
        ax.set_xticks(np.log10(ticks))
        ax.set_xticklabels([format_hz(t) for t in ticks])
        ax.set_xlabel("Frequency (Hz)")
        ax.set_ylabel("Time (ms)")
        ax.set_zlabel("Level (dB re max)")
        ax.set_zlim(floor_db, 0)
        ax.view_init(elev=28, azim=-62)
        ax.set_title(f"Waterfall (cumulative spectral decay), speaker {name}")
    return fig


def plot_spectrogram(ir: ImpulseResponse, *, channel: str | int = 0, lo_hz: float = 20.0, hi_hz: float = 20_000.0,
                     length_s: float = 0.4, floor_db: float = -70.0) -> Figure:
    """Spectrogram of the impulse response (Hann 40 ms frames), dB re its maximum."""
    idx = ir.channel_names.index(channel) if isinstance(channel, str) else int(channel)
    name = ir.channel_names[idx]
    t0 = int(round(arrival_of(ir, idx)))
    t_ms, f, level = spectrogram_db(ir.samples[idx], fs=ir.fs, start_samples=t0, length_s=length_s)
    hi = min(hi_hz, ir.fs / 2 * 0.999)
    keep = (f >= lo_hz * 0.8) & (f <= hi)
    with house_style():
        fig, axes = new_figure(height_in=3.6, right=1.0)
        ax = axes[0, 0]
        mesh = ax.pcolormesh(t_ms, f[keep], np.maximum(level[keep], floor_db), shading="nearest", cmap="magma",
                             vmin=floor_db, vmax=0.0, rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(lo_hz, hi)
        ax.set_xlabel("Time after the direct sound (ms)")
        ax.set_ylabel("Frequency (Hz)")
        ticks = [t for t in (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if lo_hz <= t <= hi]
        ax.set_yticks(ticks)
        ax.set_yticklabels([format_hz(t) for t in ticks])
        ax.minorticks_off()
        ax.grid(False)
        cbar = fig.colorbar(mesh, ax=ax, pad=0.01)
        cbar.set_label("Level (dB re max)")
        ax.set_title(f"Spectrogram of the impulse response, speaker {name}")
    return fig
