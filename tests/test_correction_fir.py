"""FIR design: cepstral minimum phase (STANDARDS.md §7.2), per-rate production, mixed phase."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt

from calib.correction.fir import (RATES_HZ, CorrectionCurve, band_limit_db, design_fir, min_phase_spectrum,
                                  pre_ringing_db, range_fade, taps_for_rate)
from calib.errors import ConfigError
from calib.profile import Biquad


def _mag_db(h, f, fs):
    return 20 * np.log10(np.abs(np.exp(-2j * np.pi * np.outer(f, np.arange(h.size)) / fs) @ h))


def test_min_phase_of_a_biquad_magnitude_is_the_biquad():
    # A peaking biquad (stable, zeros inside the unit circle) is minimum phase: the cepstral
    # method given only its magnitude must return its own impulse response.
    fs, n_fft = 48_000, 1 << 16
    sos = Biquad("peaking", 100.0, -9.0, 4.0).sos(fs=fs)[None, :]
    imp = np.zeros(n_fft)
    imp[0] = 1.0
    h_true = sosfilt(sos, imp)
    H = np.fft.rfft(h_true)
    h = np.fft.irfft(min_phase_spectrum(20 * np.log10(np.abs(H)), n_fft), n_fft)
    # 1e-6 of the peak: cepstral aliasing with N = 65536 for a pole radius ~0.997
    assert np.max(np.abs(h[:4000] - h_true[:4000])) < 1e-6


def test_designed_fir_meets_the_curve_at_every_rate():
    g = np.geomspace(10, 1000, 400)
    c = -6 * np.exp(-0.5 * (np.log2(g / 60) / 0.2) ** 2) * range_fade(g, 20, 300)
    curve = CorrectionCurve(g, c)
    for fs in RATES_HZ:
        n = taps_for_rate(8192, design_fs=48_000, fs=fs)
        d = design_fir(curve.at, fs=fs, n_taps=n)
        assert d.taps.size == n
        fchk = np.array([30.0, 45.0, 60.0, 80.0, 150.0, 1000.0, 5000.0])
        # 0.1 dB: truncation of a 0.17 s filter vs a 0.2-octave-wide 6 dB cut
        assert _mag_db(d.taps, fchk, fs) == pytest.approx(curve.at(fchk), abs=0.1)
        assert d.pre_ringing_db < -100  # minimum phase: the peak is at the start


def test_taps_per_rate_keep_the_length_in_seconds():
    assert taps_for_rate(65536, design_fs=48_000, fs=96_000) == 131072
    assert taps_for_rate(65536, design_fs=48_000, fs=44_100) == 60212
    assert taps_for_rate(3, design_fs=48_000, fs=48_000) == 16


def test_mixed_phase_keeps_pre_ringing_under_the_limit_and_reports_it():
    fs = 48_000
    n = 1 << 15
    t = np.arange(n) / fs
    # non-minimum-phase room: direct sound plus a *stronger* late arrival at 5 ms (a maximum-phase zero set)
    h = np.zeros(n)
    h[100] = 1.0
    h[100 + 240] = 1.3
    h += 0.02 * np.exp(-t / 0.08) * np.sin(2 * np.pi * 50 * t)
    g = np.geomspace(10, 1000, 200)
    curve = CorrectionCurve(g, np.zeros_like(g))
    d = design_fir(curve.at, fs=fs, n_taps=16384, phase="mixed", main_ir=h, ir_fs=fs)
    assert d.phase == "mixed"
    assert d.excess_max_hz >= 20.0  # some excess phase really is corrected (the crossover was lowered to fit)
    assert d.pre_ringing_db <= -50.0
    assert d.pre_ringing_db == pytest.approx(pre_ringing_db(d.taps, fs=fs), abs=1e-9)
    assert d.delay_samples == min(16384 // 2, int(0.1 * fs))


def test_band_limit_and_fade_shapes():
    f = np.array([100.0, 20000.0, 21000.0, 22000.0, 22050.0])
    b = band_limit_db(f, f_limit_hz=20000.0, fs=44_100)
    assert b[0] == 0.0 and b[1] == 0.0
    assert b[3] == pytest.approx(-60.0, abs=1e-9) and b[4] == pytest.approx(-60.0, abs=1e-9)
    fade = range_fade(np.array([10.0, 20 / 2 ** 0.25, 20.0, 300.0, 300 * 2 ** 0.5]), 20, 300)
    assert fade.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0, 0.0], abs=1e-12)


def test_fir_errors():
    curve = CorrectionCurve(np.array([10.0, 100.0]), np.zeros(2))
    with pytest.raises(ConfigError, match="fir-taps"):
        design_fir(curve.at, fs=48_000, n_taps=10)
    with pytest.raises(ConfigError, match="phase"):
        design_fir(curve.at, fs=48_000, n_taps=1024, phase="linear")
    with pytest.raises(ConfigError, match="impulse response"):
        design_fir(curve.at, fs=48_000, n_taps=1024, phase="mixed")
