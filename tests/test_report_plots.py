"""The plots: display curves checked against analytic truth, every figure with a unit on every
axis, and bad input refused with a sentence."""

from __future__ import annotations

import numpy as np
import pytest

from calib.errors import SignalError
from calib.types import ImpulseResponse
from reports import curves
from reports import plots_history as ph
from reports import plots_mixes as pmx
from reports import plots_response as pr
from reports import plots_room as pm
from reports import plots_time as pt
from reports.style import check_units, figure_to_png, format_hz, house_style, new_figure

FS = 48_000


def _room(n=FS // 2, delay=100, modes=((47.0, 0.5, 0.02),), refl=((2.1, 0.5),), seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    x = np.zeros(n)
    x[delay] = 1.0
    for d_ms, a in refl:
        x[delay + int(round(d_ms * FS / 1000))] += a
    for f0, t60, a in modes:
        x[delay:] += a * np.exp(-6.908 / t60 * t[: n - delay]) * np.sin(2 * np.pi * f0 * t[: n - delay])
    x[delay:] += 1e-3 * rng.standard_normal(n - delay) * np.exp(-6.908 / 0.3 * t[: n - delay])
    return x


@pytest.fixture(scope="module")
def ir():
    return ImpulseResponse(np.vstack([_room(delay=100), _room(delay=112, seed=1)]), FS, ("L", "R"),
                           arrival_samples=(100.0, 112.0))


# ------------------------------------------------------------------ curves vs analytic truth
def test_unit_impulse_is_0_db_everywhere():
    x = np.zeros(1024)
    x[0] = 1.0
    f, m = curves.magnitude_response(x, fs=FS)
    assert np.max(np.abs(m)) < 1e-9  # |FFT of a unit impulse| = 1 exactly (rounding only)
    g, s = curves.smooth_octave(f, m, fraction=6, out_hz=curves.log_grid_hz(20, 20000))
    assert np.max(np.abs(s)) < 1e-9


def test_smoothing_is_power_mean_over_the_window():
    # two bins of power 1 and 3 inside a 1/1-octave window around 1 kHz -> mean power 2 (3.0103 dB)
    f = np.array([500.0, 900.0, 1100.0, 3000.0])
    m = 10 * np.log10(np.array([100.0, 1.0, 3.0, 100.0]))
    _, s = curves.smooth_octave(f, m, fraction=1, out_hz=np.array([1000.0]))
    assert s[0] == pytest.approx(10 * np.log10(2.0), abs=1e-12)


def test_group_delay_of_a_pure_delay_after_removal_is_zero():
    x = np.zeros(4096)
    x[37] = 1.0
    f, phase, gd = curves.phase_group_delay(x, fs=FS, delay_samples=37.0)
    assert np.max(np.abs(gd[1:-1])) < 1e-12  # removed linear phase: exactly flat (s)
    f, phase, gd = curves.phase_group_delay(x, fs=FS, delay_samples=0.0)
    assert np.median(gd[1:-1]) == pytest.approx(37 / FS, abs=1e-9)  # tau = 37 samples


def test_etc_finds_direct_and_reflection_levels():
    x = np.zeros(4800)
    x[200] = 1.0
    x[200 + 96] = 0.5  # 2.0 ms, -6.02 dB
    t_ms, lev = curves.etc_db(x, fs=FS, start_samples=200, length_s=0.01)
    assert t_ms[np.argmax(lev)] == pytest.approx(0.0, abs=1e-9)
    k = np.argmin(np.abs(t_ms - 2.0))
    # the Hilbert envelope of an isolated impulse equals its amplitude at the sample: -6.02 dB
    # to within 0.1 dB (the neighbouring impulse's envelope tail adds a trace)
    assert lev[k] == pytest.approx(20 * np.log10(0.5), abs=0.1)


def test_waterfall_decays_at_the_modal_rate():
    t60 = 0.5
    x = _room(modes=((47.0, t60, 0.5),), refl=(), seed=2)
    x[100] = 0.0  # the mode alone
    times, f, lev = curves.cumulative_spectral_decay(x, fs=FS, start_samples=100, n_slices=11, step_s=0.02,
                                                     window_s=0.3, lo_hz=30, hi_hz=80, fraction=24)
    k = np.argmin(np.abs(f - 47.0))
    slope = np.polyfit(times[2:], lev[2:, k], 1)[0]   # dB/s
    # 60 dB per T60; the fixed 0.3 s window smears, 10 % tolerance covers it
    assert slope == pytest.approx(-60.0 / t60, rel=0.10)


def test_spectrogram_shape_and_reference():
    x = _room()
    t_ms, f, lev = curves.spectrogram_db(x, fs=FS, start_samples=100, length_s=0.2)
    assert lev.shape == (f.size, t_ms.size)
    assert lev.max() == pytest.approx(0.0, abs=1e-12)


def test_nr_curves_match_the_standards_table():
    # STANDARDS.md §3.9 rows (rounded to 0.1 dB there)
    assert pm.nr_curve_db(10) == pytest.approx([62.2, 43.4, 30.7, 21.3, 14.5, 10.0, 6.6, 4.2, 2.3], abs=0.051)
    assert pm.nr_curve_db(15) == pytest.approx([65.6, 47.4, 35.0, 26.0, 19.4, 15.0, 11.7, 9.3, 7.5], abs=0.051)


def test_format_hz():
    assert [format_hz(v) for v in (20, 31.5, 1000, 1250, 20000)] == ["20", "31.5", "1k", "1.2k", "20k"]


# ------------------------------------------------------------------ every figure, units on every axis
def _all_figures(ir):
    f, b = pr.smoothed_db(ir.samples[0], fs=FS, fraction=6)
    pts = [{"time_utc": f"2026-11-{d:02d}T10:00:00Z", "value": 0.1 * d, "limit": 1.0, "uncertainty": 0.1,
            "verdict": "fail" if d == 9 else "pass", "unit": "dB"} for d in range(1, 10)]
    pts_ms = [dict(p, unit="ms", value=0.01 * i) for i, p in enumerate(pts)]
    ff = np.geomspace(20, 10000, 100)
    return {
        "response": pr.plot_response(ir),
        "before_after": pr.plot_before_after(f, b, b * 0.3, target_db=0 * f, tol_lower_db=-3 + 0 * f,
                                             tol_upper_db=3 + 0 * f, channel="L"),
        "phase": pr.plot_phase_group_delay(ir),
        "lr": pr.plot_lr_difference(ir),
        "etc": pt.plot_etc(ir, reflections=[{"delay_ms": 2.1, "level_db": -6.0, "surface": "desk"}]),
        "waterfall": pt.plot_waterfall(ir),
        "spectrogram": pt.plot_spectrogram(ir),
        "decay": pm.plot_decay([125, 250, 500], {"T30 L": [0.4, None, 0.3]}, tm_s=0.25, mask_hz=[63, 200, 4000],
                               mask_lower_s=[-0.05] * 3, mask_upper_s=[0.3, 0.05, 0.05]),
        "modes": pm.plot_mode_map([{"freq_hz": 47.0, "level_db": 7.0, "t60_s": 0.5}],
                                  [{"freq_hz": 47.0, "kind": "axial", "indices": (0, 1, 0)},
                                   {"freq_hz": 80.0, "kind": "tangential", "indices": (1, 1, 0)}],
                                  lf_freqs_hz=f[f < 300], lf_level_db={"L": b[f < 300]}, schroeder_hz=150.0),
        "distortion": pm.plot_distortion(ff, {2: -50 + 0 * ff, 3: -60 + 0 * ff}, channel="L", thd_db=-49 + 0 * ff),
        "noise": pm.plot_noise([63, 125, 250, 500, 1000], [40, 30, 20, 12, 8], rating_nr=9.0),
        "drift": ph.plot_drift({"level L": pts, "arrival R": pts_ms}),
        "fingerprint": pmx.plot_fingerprint([63, 125, 250, 500], [-4.0, 0.5, 0.0, 1.0], [0.9, 0.5, 0.9, 0.9],
                                            studio="Nord", per_mix_db=[[-4.5, 0.0, 0.2, 1.0], [-3.5, 1.0, -0.2, 1.0]]),
    }


def test_every_plot_has_units_on_every_axis_and_renders(ir):
    figs = _all_figures(ir)
    assert len(figs) == 13
    for name, fig in figs.items():
        assert check_units(fig) == [], name
        png = figure_to_png(fig)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, name


def test_check_units_catches_a_missing_unit():
    with house_style():
        fig, axes = new_figure()
        axes[0, 0].plot([0, 1], [0, 1])
        axes[0, 0].set_xlabel("Frequency (Hz)")
        axes[0, 0].set_ylabel("Level")
    problems = check_units(fig)
    assert len(problems) == 1 and "y label 'Level' has no unit" in problems[0]


# ------------------------------------------------------------------ bad input
def test_errors():
    f = np.geomspace(20, 20000, 50)
    with pytest.raises(SignalError, match="after_db has shape"):
        pr.plot_before_after(f, f * 0, f[:10], target_db=f * 0, tol_lower_db=f * 0, tol_upper_db=f * 0, channel="L")
    with pytest.raises(SignalError, match="no verification history to plot"):
        ph.plot_drift({"level L": []})
    with pytest.raises(SignalError, match="is not ISO 8601"):
        ph.parse_utc("last tuesday")
    ir1 = ImpulseResponse(np.eye(2, 64), FS, ("L", "C"))
    with pytest.raises(SignalError, match="speaker pair L/R not in the measurement's channels L, C"):
        pr.plot_lr_difference(ir1)
    with pytest.raises(SignalError, match="has 2 values for 3 bands"):
        pm.plot_decay([125, 250, 500], {"T30": [0.3, 0.3]}, tm_s=0.3)
    with pytest.raises(SignalError, match="must be 1-D with >= 16 samples"):
        curves.magnitude_response(np.zeros(4), fs=FS)
    with pytest.raises(SignalError, match="NaN or Inf"):
        curves.etc_db(np.full(64, np.nan), fs=FS)
    with pytest.raises(SignalError, match="all zeros"):
        curves.etc_db(np.zeros(64), fs=FS)
    with pytest.raises(SignalError, match="must match and be non-empty"):
        pm.plot_noise([63, 125], [30.0])
    with pytest.raises(SignalError, match="one value per band: 2 bands, 1 deviations"):
        pmx.plot_fingerprint([63, 125], [1.0], [0.5, 0.5], studio="x")


def test_fdw_response_matches_an_analytic_filter_and_removes_the_delay():
    """A 2nd-order Butterworth low-pass at 1 kHz behind a 480-sample delay: the windowed
    response, referenced to the arrival, equals the filter's own (scipy sosfreqz)."""
    from scipy import signal

    x = np.zeros(FS)
    x[480] = 1.0
    sos = signal.butter(2, 1000.0, fs=FS, output="sos")
    y = signal.sosfilt(sos, x)
    f = np.geomspace(20.0, 10_000.0, 60)
    h = curves.fdw_response(y, fs=FS, freqs_hz=f, delay_samples=480.0)
    _, ref = signal.sosfreqz(sos, worN=f, fs=FS)
    # 0.2 degree / 0.02 dB: the 15-cycle window truncates the filter's tail only where it is
    # already > 40 dB down (measured error < 0.1 degree up to 10 kHz)
    assert np.max(np.abs(np.degrees(np.angle(h / ref)))) < 0.2
    assert np.max(np.abs(20 * np.log10(np.abs(h / ref)))) < 0.02
    # a late reflection outside the window at high frequencies leaves their phase untouched
    z = x.copy()
    z[480 + 480] = 0.5  # 10 ms later: outside 15 cycles above 1.5 kHz
    hz = curves.fdw_response(z, fs=FS, freqs_hz=np.array([2000.0, 5000.0]), delay_samples=480.0)
    assert np.max(np.abs(np.degrees(np.angle(hz)))) < 1e-6
    with pytest.raises(SignalError, match="between 0 and fs/2"):
        curves.fdw_response(y, fs=FS, freqs_hz=np.array([30_000.0]))
