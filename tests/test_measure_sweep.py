"""Sweeps: Farina's exponential sweep and Novak's synchronized swept sine (STANDARDS.md §1.1-1.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.errors import SignalError
from calib.sweep import (build_stimulus, generate_sweep, harmonic_delay_s, instantaneous_frequency_hz,
                         stimulus_length_samples, sweep_length_samples, sweep_start_index)
from calib.types import SweepSpec


@pytest.mark.parametrize("level", [-6.0, -12.0, -40.0])
def test_peak_level_and_length(level):
    spec = SweepSpec(duration_s=1.0, level_dbfs=level)
    x = generate_sweep(spec)
    # peak is set exactly (float rounding only): 1e-12 relative
    assert np.max(np.abs(x)) == pytest.approx(10 ** (level / 20), rel=1e-12)
    assert x.size == round(spec.actual_duration_s * spec.fs)
    assert x.dtype == np.float64 and x.ndim == 1


def test_synchronized_rate_makes_f1_L_an_integer():
    spec = SweepSpec(f_start_hz=10, f_stop_hz=22000, duration_s=5.0)
    fl = spec.f_start_hz * spec.rate_l_s
    assert abs(fl - round(fl)) < 1e-9          # Novak eq. 32: f1*L integer
    # the actual duration moves by at most half a cycle of f1 per neper: |T - T^| <= ln(f2/f1)/(2 f1)
    assert abs(spec.actual_duration_s - 5.0) <= math.log(2200) / (2 * 10) + 1e-12


def test_synchronized_phase_property_harmonics_are_time_shifts():
    # Novak: sin(k*phi(t)) == x(t + L ln k) when f1*L is an integer; checked on the unfaded sweep
    spec = SweepSpec(f_start_hz=20, f_stop_hz=20000, duration_s=2.0, fade_in_s=0, fade_out_s=0, level_dbfs=0)
    L = spec.rate_l_s
    t = np.arange(0, 0.5, 1 / spec.fs)
    phi = 2 * np.pi * spec.f_start_hz * L * np.expm1(t / L)
    for k in (2, 3, 5):
        shifted = 2 * np.pi * spec.f_start_hz * L * np.expm1((t + L * math.log(k)) / L)
        # the difference of phases is a whole number of cycles (to float precision, 1e-6 rad)
        d = (shifted - k * phi) / (2 * np.pi)
        assert np.max(np.abs(d - np.round(d))) < 1e-6
        assert harmonic_delay_s(spec, k) == pytest.approx(L * math.log(k), rel=1e-15)


def test_instantaneous_frequency_follows_the_exponential_law():
    spec = SweepSpec(f_start_hz=20, f_stop_hz=20000, duration_s=2.0, fade_in_s=0, fade_out_s=0)
    x = generate_sweep(spec)
    zc = np.flatnonzero(np.signbit(x[:-1]) != np.signbit(x[1:]))
    # local frequency from zero crossings over ~50 ms windows at a few instants
    for t_s in (0.5, 1.0, 1.5):
        n = int(t_s * spec.fs)
        w = zc[(zc > n - 1200) & (zc < n + 1200)]
        f_meas = (w.size - 1) / 2 / ((w[-1] - w[0]) / spec.fs)
        f_true = float(instantaneous_frequency_hz(spec, t_s))
        # zero-crossing count over a window of a rising sweep: 1 % (window-average of an exponential)
        assert f_meas == pytest.approx(f_true, rel=0.01)


def test_pink_spectrum_equal_energy_per_octave():
    spec = SweepSpec(f_start_hz=10, f_stop_hz=22000, duration_s=4.0)
    x = generate_sweep(spec)
    X = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / spec.fs)
    e = [X[(f >= lo) & (f < 2 * lo)].sum() for lo in (50, 200, 800, 3200)]
    # an exponential sweep spends the same time in every octave: equal energy within 0.1 dB
    db = 10 * np.log10(np.array(e) / e[0])
    assert np.max(np.abs(db)) < 0.1


def test_fades_start_and_end_quietly():
    spec = SweepSpec(duration_s=1.0, fade_in_s=0.05, fade_out_s=0.005)
    x = generate_sweep(spec)
    assert x[0] == 0.0
    assert abs(x[-1]) < 1e-3 * np.max(np.abs(x))


def test_farina_sweep_starts_at_f1():
    spec = SweepSpec(f_start_hz=100, f_stop_hz=10000, duration_s=1.0, synchronized=False, fade_in_s=0)
    assert spec.rate_l_s == pytest.approx(1.0 / math.log(100))
    x = generate_sweep(spec)
    t = np.arange(200) / spec.fs
    ref = np.sin(2 * np.pi * 100 * spec.rate_l_s * np.expm1(t / spec.rate_l_s))
    np.testing.assert_allclose(x[:200] / np.max(np.abs(x)), ref, atol=1e-5)


def test_stimulus_layout():
    spec = SweepSpec(duration_s=1.0, preroll_s=0.25, tail_s=0.75)
    s = build_stimulus(spec)
    start = sweep_start_index(spec)
    n = sweep_length_samples(spec)
    assert start == 12000 and s.size == stimulus_length_samples(spec) == start + n + 36000
    assert not np.any(s[:start]) and not np.any(s[start + n:])
    np.testing.assert_array_equal(s[start:start + n], generate_sweep(spec))


def test_bad_specs_are_refused():
    with pytest.raises(SignalError, match="sweep band"):
        SweepSpec(f_start_hz=100, f_stop_hz=30000, fs=48000)
    with pytest.raises(SignalError, match="above full scale"):
        SweepSpec(level_dbfs=3)
    with pytest.raises(SignalError, match="outside 0.1..120 s"):
        SweepSpec(duration_s=0.01)
    with pytest.raises(ValueError, match="order"):
        harmonic_delay_s(SweepSpec(), 0)
