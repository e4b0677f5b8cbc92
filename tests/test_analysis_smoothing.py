"""Smoothing against analytic means."""

from __future__ import annotations

import numpy as np
import pytest

from calib.analysis.smoothing import (
    erb_hz,
    erb_smooth,
    fractional_octave_smooth,
    log_frequency_grid,
    psychoacoustic_smooth,
    psychoacoustic_width_octaves,
    resample_response,
    smooth_response,
    variable_smooth,
    variable_width_octaves,
)
from calib.errors import SignalError
from calib.types import FrequencyResponse


def test_flat_stays_flat_for_every_kind():
    f = np.linspace(0, 24000, 8193)
    fr = FrequencyResponse(freqs_hz=f, magnitude_db=np.full((2, f.size), -3.0), channel_names=("L", "R"))
    for kind in ("1/1", "1/3", "1/6", "1/48", "var", "psy", "erb", 12):
        out = smooth_response(fr, kind)
        np.testing.assert_allclose(out.magnitude_db, -3.0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 3, 6, 24])
def test_power_law_mean_is_exact(n):
    # |H|² = f (rising 3 dB/oct): the mean of f over [f/k, f·k] is f·(k + 1/k)/2 exactly,
    # and the trapezoid rule is exact for a linear integrand.
    f = np.linspace(1, 20000, 20000)
    m = 10 * np.log10(f)
    k = 2 ** (1 / (2 * n))
    got = fractional_octave_smooth(f, m, fraction=n)
    expect = 10 * np.log10(f * (k + 1 / k) / 2)
    inner = (f / k >= f[0]) & (f * k <= f[-1])
    np.testing.assert_allclose(got[inner], expect[inner], atol=1e-9)


def test_narrow_peak_is_spread_by_energy():
    # a 1-Hz-wide +20 dB peak at 1 kHz on a 1 Hz grid, 1/3-octave window (~231.6 Hz wide):
    # energy mean = 1 + (100 - 1)·(area of the triangle = 1 Hz)/width
    f = np.arange(0.0, 4001.0)
    m = np.zeros(f.size)
    m[1000] = 20.0
    got = fractional_octave_smooth(f, m, fraction=3)
    k = 2 ** (1 / 6)
    width = 1000 * k - 1000 / k
    expect = 10 * np.log10(1 + 99.0 / width)
    assert got[1000] == pytest.approx(expect, abs=1e-9)


def test_cubic_mean_weighs_peaks_more():
    f = np.arange(0.0, 4001.0)
    m = np.zeros(f.size)
    m[990:1011] = 10.0
    m[1100:1121] = -10.0
    p = fractional_octave_smooth(f, m, fraction=3, mean="power")
    c = fractional_octave_smooth(f, m, fraction=3, mean="cubic")
    d = fractional_octave_smooth(f, m, fraction=3, mean="db")
    assert c[1050] > p[1050] > d[1050]


def test_variable_and_psy_widths_hit_rew_anchors():
    w = variable_width_octaves(np.array([50, 100, 1000, 10000, 20000]))
    np.testing.assert_allclose(w, [1 / 48, 1 / 48, 1 / 6, 1 / 3, 1 / 3], rtol=1e-12)
    w = psychoacoustic_width_octaves(np.array([50, 100, 1000, 5000]))
    np.testing.assert_allclose(w, [1 / 3, 1 / 3, 1 / 6, 1 / 6], rtol=1e-12)


def test_erb_formula_and_width():
    # REW's form 24.673 + 107.77·f_kHz; Glasberg & Moore's rounded form 24.7·(4.37·f_kHz + 1)
    # = 132.64 Hz at 1 kHz; the two differ by the rounding of the constants (0.2 Hz).
    assert erb_hz(1000.0) == pytest.approx(132.443, abs=1e-9)
    assert erb_hz(1000.0) == pytest.approx(24.7 * (4.37 + 1), abs=0.25)
    f = np.arange(0.0, 4001.0)
    m = 10 * np.log10(np.maximum(f, 1e-3))
    got = erb_smooth(f, m)
    b = erb_hz(1000.0)
    # linear integrand: symmetric window mean equals the centre value exactly
    assert got[1000] == pytest.approx(m[1000], abs=1e-9)
    assert b > 0


def test_var_and_psy_run_on_log_grid():
    f = log_frequency_grid(20, 20000, points_per_octave=96)
    m = np.sin(np.log(f) * 20)
    v = variable_smooth(f, m)
    p = psychoacoustic_smooth(f, m)
    assert v.shape == f.shape and p.shape == f.shape
    # psy smooths more at 100 Hz (1/3 oct) than var (1/48 oct): smaller deviation from mean
    i = np.argmin(abs(f - 100))
    assert abs(p[i] - 0) < abs(v[i] - 0) + 1e-12


def test_errors():
    f = np.linspace(0, 100, 11)
    with pytest.raises(SignalError, match="outside 1/1..1/48"):
        fractional_octave_smooth(f, np.zeros(11), fraction=96)
    with pytest.raises(SignalError, match="strictly ascending"):
        fractional_octave_smooth(f[::-1], np.zeros(11))
    with pytest.raises(SignalError, match="NaN or Inf"):
        fractional_octave_smooth(f, np.full(11, -np.inf))
    fr = FrequencyResponse(freqs_hz=f, magnitude_db=np.zeros((1, 11)), channel_names=("L",))
    with pytest.raises(SignalError, match="unknown smoothing"):
        smooth_response(fr, "1/7th")
    with pytest.raises(SignalError, match="unknown smoothing mean"):
        fractional_octave_smooth(f, np.zeros(11), mean="median")


def test_resample_log_interpolation():
    f = np.array([100.0, 200.0, 400.0])
    fr = FrequencyResponse(freqs_hz=f, magnitude_db=[[0.0, 6.0, 12.0]], channel_names=("L",))
    out = resample_response(fr, np.array([100 * 2 ** 0.5, 300.0]))
    # linear in log f: half an octave above 100 Hz → 3 dB
    assert out.magnitude_db[0, 0] == pytest.approx(3.0, abs=1e-12)
