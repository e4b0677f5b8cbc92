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
    from scipy.signal import butter, fftconvolve

    fs = 48_000
    n = 1 << 15
    # a woofer arriving 5 ms late: HF part at 100 samples, LF part (2nd-order 100 Hz low-pass)
    # at 340 samples -- excess phase at low frequencies only, the direct sound stays the peak
    d0 = np.zeros(n)
    d0[100] = 1.0
    d1 = np.zeros(n)
    d1[340] = 1.0
    lp = butter(2, 100, fs=fs, output="sos")
    h = d0 - sosfilt(lp, d0) + sosfilt(lp, d1)
    h += 1e-4 * np.random.default_rng(0).standard_normal(n) * np.exp(-np.arange(n) / fs / 0.05)
    g = np.geomspace(10, 1000, 200)
    curve = CorrectionCurve(g, np.zeros_like(g))
    d = design_fir(curve.at, fs=fs, n_taps=16384, phase="mixed", main_ir=h, ir_fs=fs)
    assert d.phase == "mixed"
    assert d.excess_max_hz >= 30.0  # some excess phase really is corrected
    y = fftconvolve(h, d.taps)
    # the reported level is the corrected response's, and it meets the limit
    assert d.pre_ringing_db == pytest.approx(pre_ringing_db(y, fs=fs), abs=1e-9)
    assert d.pre_ringing_db <= -50.0
    assert d.filter_pre_ringing_db == pytest.approx(pre_ringing_db(d.taps, fs=fs), abs=1e-9)
    assert d.delay_samples == min(16384 // 2, int(0.1 * fs))
    # the late woofer is pulled forward: the corrected response's group delay at 40 Hz moves
    # toward the HF delay (100 samples + modelling delay)
    def gd_samples(x, f0):
        nf = 1 << 17
        X = np.fft.rfft(x, nf)
        k = int(round(f0 * nf / fs))
        dphi = np.angle(X[k + 1] / X[k - 1])
        return -dphi / (2 * 2 * np.pi / nf)
    before = gd_samples(h, 40.0) - 100
    after = gd_samples(y, 40.0) - 100 - d.delay_samples
    assert abs(after) < abs(before)


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
