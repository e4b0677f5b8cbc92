"""ISO 3382 decay figures against exponential-decay truth, Lundeby, and the error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.analysis.bands import octave_centres_hz
from calib.analysis.decay import broadband_decay, decay_table, fit_decay_time, schroeder_curve_db
from calib.analysis.lundeby import lundeby
from calib.errors import SignalError

FS = 48000


def _octave_room(ts_s, *, noise_rms=1e-4, seconds=2.5, seed=3):
    """One exponentially decaying sinusoid at each octave centre 63 Hz … 8 kHz, decay time
    ts_s[i]; plus white noise.  Returns the IR and the exact C50/C80/Ts of each component."""
    rng = np.random.default_rng(seed)
    n, t0 = int(seconds * FS), 2400
    t = np.arange(n - t0) / FS
    x = np.zeros(n)
    truth = []
    for T, f in zip(ts_s, octave_centres_hz(63, 8000)):
        a = 6 * math.log(10) / T                    # energy decays 60 dB in T
        s = np.exp(-a * t / 2) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        x[t0:] += s
        e = s ** 2
        i50, i80 = int(0.05 * FS), int(0.08 * FS)
        truth.append((10 * np.log10(e[:i50].sum() / e[i50:].sum()),
                      10 * np.log10(e[:i80].sum() / e[i80:].sum()),
                      float((t * e).sum() / e.sum())))
    x += rng.standard_normal(n) * noise_rms
    return x, truth


TS = np.array([0.9, 0.7, 0.55, 0.45, 0.4, 0.35, 0.3, 0.25])


@pytest.fixture(scope="module")
def octave_table():
    x, truth = _octave_room(TS)
    return decay_table(x, fs=FS, fraction=1), truth


def test_decay_times_match_exponential_truth(octave_table):
    tab, _ = octave_table
    assert [b.label for b in tab.bands] == ["63", "125", "250", "500", "1k", "2k", "4k", "8k"]
    for b, T in zip(tab.bands, TS):
        # Issue 3 asks 5 %; the method is exact for an exponential, the residual (< 1 % here)
        # is leakage of the neighbouring octaves' components through the filter skirts.
        assert b.t20_s == pytest.approx(T, rel=0.02), b.label
        assert b.t30_s == pytest.approx(T, rel=0.02), b.label
        assert b.edt_s == pytest.approx(T, rel=0.02), b.label
        assert not b.reasons
        assert b.decay_range_db > 70      # noise 1e-4 rms → ~80 dB of range


def test_energy_ratios_match_truth(octave_table):
    tab, truth = octave_table
    for b, (c50, c80, ts) in zip(tab.bands, truth):
        # 0.5 dB (issue 3): leakage of the neighbours 1 octave away (-20 dB) beats with the
        # component and is the only error left (largest in the 63 and 250 Hz bands, ~0.4 dB)
        assert b.c50_db == pytest.approx(c50, abs=0.5), b.label
        assert b.c80_db == pytest.approx(c80, abs=0.5), b.label
        assert b.ts_s == pytest.approx(ts, abs=0.005), b.label          # 5 ms < JND 10 ms
        assert b.d50 == pytest.approx(1 / (1 + 10 ** (-b.c50_db / 10)), rel=1e-9)


def test_figure_without_range_is_null_with_reason():
    # noise 35 dB below the decay start: T30 (needs 45 dB) must be null, T20 (35) borderline,
    # EDT (20 dB) present
    x, _ = _octave_room(np.full(8, 0.5), noise_rms=0.03)
    tab = decay_table(x, fs=FS, fraction=1, centres_hz=[1000.0])
    b = tab.bands[0]
    assert math.isnan(b.t30_s)
    assert "decay range" in b.reasons["t30"] and "45 dB needed" in b.reasons["t30"]
    assert b.edt_s == pytest.approx(0.5, rel=0.05)
    d = tab.to_dict()
    assert d["t30_s"] == [None]          # JSON null, never a made-up number


def test_lundeby_crosspoint_on_known_noise_floor():
    # exponential decay of per-sample power 1·exp(-a t) plus white noise of power N:
    # the crosspoint is where exp(-a t) = N, t_c = ln(1/N)/a
    rng = np.random.default_rng(0)
    T, n = 0.4, 2 * FS
    a = 6 * math.log(10) / T
    t = np.arange(n) / FS
    x = np.exp(-a * t / 2) * rng.standard_normal(n) + rng.standard_normal(n) * 10 ** (-60 / 20)
    res = lundeby(x ** 2, fs=FS, centre_hz=None)
    tc = math.log(10 ** 6) / a                      # 60 dB below → t_c = T = 0.4 s
    assert res.ok
    assert res.crosspoint_samples / FS == pytest.approx(tc, abs=0.02)    # 20 ms ≈ 3 dB of decay
    assert res.late_decay_db_per_s == pytest.approx(-60 / T, rel=0.05)
    assert res.decay_range_db == pytest.approx(60, abs=2)                  # noise-level estimate ±2 dB


def test_schroeder_of_noiseless_exponential_is_a_line():
    T = 0.3
    a = 6 * math.log(10) / T
    e = np.exp(-a * np.arange(FS) / FS)
    edc = schroeder_curve_db(e, compensation=e[-1] / (1 - math.exp(-a / FS)))  # exact tail
    t_fit, r2 = fit_decay_time(edc, fs=FS, start_db=-5, end_db=-35)
    assert t_fit == pytest.approx(T, rel=1e-6)
    assert r2 == pytest.approx(1.0, abs=1e-9)


def test_broadband_decay_and_too_short_ir():
    x, _ = _octave_room(np.full(8, 0.5))
    b = broadband_decay(x, fs=FS)
    assert b.t30_s == pytest.approx(0.5, rel=0.02)
    short = np.zeros(3000)
    short[100] = 1.0
    with pytest.raises(SignalError, match="too short: 60 ms after the direct sound"):
        decay_table(short, fs=FS)
    with pytest.raises(SignalError, match="silent"):
        decay_table(np.zeros(FS), fs=FS)
    with pytest.raises(SignalError, match="octaves"):
        decay_table(x, fs=FS, fraction=6)


def test_third_octaves_low_bands_with_time_reversed_filtering():
    # a single 50 Hz mode with T = 0.3 s: B·T = 11.6·0.3 = 3.5 < 16, where forward filtering
    # would bias T upward; time-reversed filtering keeps it within 5 %
    rng = np.random.default_rng(1)
    n, t0 = 2 * FS, 1000
    t = np.arange(n - t0) / FS
    a = 6 * math.log(10) / 0.3
    x = np.zeros(n)
    x[t0:] = np.exp(-a * t / 2) * np.sin(2 * np.pi * 50.12 * t)
    x += rng.standard_normal(n) * 1e-5
    b = decay_table(x, fs=FS, fraction=3, centres_hz=[50.12])
    assert b.bands[0].t30_s == pytest.approx(0.3, rel=0.05)
