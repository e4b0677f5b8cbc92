"""Noise/NR, distortion, channel matching, time-frequency data and the limit table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from calib.analysis import compliance as cmp
from calib.analysis.distortion import harmonic_distortion
from calib.analysis.limits import load_limits
from calib.analysis.matching import match_channels
from calib.analysis.noise import NR_BANDS_HZ, noise_spectrum, nr_curve_db, nr_rating
from calib.analysis.timefreq import spectrogram, waterfall
from calib.analysis.types import ChannelPair, NoiseAnalysis
from calib.errors import ConfigError, SignalError
from calib.types import ImpulseResponse

FS = 48000


# --- noise ------------------------------------------------------------------------------------
def test_nr_rating_of_the_nr_curves_themselves():
    # STANDARDS §3.9 table: NR 10 at 1 kHz = 10.0, at 63 Hz 43.4, …
    np.testing.assert_allclose(nr_curve_db(10), [62.2, 43.4, 30.7, 21.3, 14.5, 10.0, 6.6, 4.2, 2.3], atol=0.06)
    for nr in (10.0, 15.0, 23.7):
        got, _band = nr_rating(nr_curve_db(nr))
        assert got == pytest.approx(nr, abs=1e-9)
    lv = nr_curve_db(10.0)
    lv[2] += 4.35                       # 125 Hz band 4.35 dB above NR 10: B = 0.87 → NR 15
    got, band = nr_rating(lv)
    assert got == pytest.approx(15.0, abs=1e-9) and band == 125.0


def test_noise_spectrum_of_a_sine_and_calibration():
    t = np.arange(2 * FS) / FS
    x = 0.1 * np.sin(2 * np.pi * 1000 * t)
    na = noise_spectrum(x, fs=FS)
    i = NR_BANDS_HZ.index(1000.0)
    # mean square 0.1²/2 → -26.02 dB re RMS 1.0 (the class-1 filter passes its centre at 0 dB)
    assert na.level_db[i] == pytest.approx(10 * math.log10(0.005), abs=0.05)
    assert not na.calibrated and math.isnan(na.nr) and "calibration" in na.reason
    cal = noise_spectrum(x, fs=FS, spl_offset_db=94.0)
    assert cal.level_db[i] == pytest.approx(94 + 10 * math.log10(0.005), abs=0.05)
    # 70.98 dB SPL at 1 kHz (B = 1, A = 0) dominates: NR ≈ 71
    assert cal.nr == pytest.approx(94 + 10 * math.log10(0.005), abs=0.05)


def test_noise_errors():
    with pytest.raises(SignalError, match="need at least 0.25 s"):
        noise_spectrum(np.zeros(1000), fs=FS)
    with pytest.raises(SignalError, match="one channel"):
        noise_spectrum(np.zeros((2, FS)), fs=FS)


# --- distortion -------------------------------------------------------------------------------
def test_thd_from_flat_harmonic_irs():
    n = 4096
    lin = np.zeros((1, n))
    lin[0, 100] = 1.0
    h2 = np.zeros((1, 2000))
    h2[0, 100] = 0.01          # -40 dB
    h3 = np.zeros((1, 1500))
    h3[0, 100] = 0.001         # -60 dB
    ir = ImpulseResponse(samples=lin, fs=FS, channel_names=("L",), harmonics={2: h2, 3: h3})
    d = harmonic_distortion(ir, "L")
    ok = np.isfinite(d.thd_pct)
    # THD = 100·√(0.01² + 0.001²) = 1.00499 %; flat spectra → exact up to smoothing edges
    np.testing.assert_allclose(d.thd_pct[ok], 100 * math.sqrt(1e-4 + 1e-6), rtol=1e-3)
    np.testing.assert_allclose(d.harmonics_db[2][np.isfinite(d.harmonics_db[2])], -40.0, atol=0.01)
    # the 3rd harmonic of 8 kHz is above 0.45·fs: NaN there
    assert np.isnan(d.harmonics_db[3][d.freqs_hz > 0.45 * FS / 3 * 1.01]).all()
    with pytest.raises(SignalError, match="no harmonic IRs"):
        harmonic_distortion(ImpulseResponse(samples=lin, fs=FS, channel_names=("L",)))
    with pytest.raises(SignalError, match="no channel"):
        harmonic_distortion(ir, "Q")


# --- matching ---------------------------------------------------------------------------------
def test_matching_level_arrival_polarity():
    rng = np.random.default_rng(5)
    n = FS // 2
    a = np.zeros(n)
    a[1000:1000 + 200] = rng.standard_normal(200) * np.exp(-np.arange(200) / 40)
    b = np.zeros(n)
    b[1024:1024 + 200] = -0.5 * a[1000:1200]          # 0.5 ms later, -6.02 dB, inverted
    ir = ImpulseResponse(samples=np.stack([a, b]), fs=FS, channel_names=("L", "R"))
    (p,) = match_channels(ir)
    assert p.level_diff_db == pytest.approx(20 * math.log10(2), abs=1e-6)      # same shape: exact
    np.testing.assert_allclose([v for v in p.response_diff_db if math.isfinite(v)], 20 * math.log10(2), atol=1e-6)
    assert p.arrival_diff_ms == pytest.approx(-0.5, abs=0.005)
    assert not p.same_polarity and p.correlation == pytest.approx(-1.0, abs=1e-9)
    with pytest.raises(SignalError, match="at least 2 channels"):
        match_channels(ImpulseResponse(samples=a[np.newaxis], fs=FS, channel_names=("L",)))


# --- compliance and limits --------------------------------------------------------------------
def test_tm_formula_and_matching_verdicts():
    lim = load_limits()
    # Tm = 0.25·(V/100)^(1/3): 80 m³ → 0.232 s, 200 m³ → 0.315 s (STANDARDS §3.2)
    assert cmp.tm_s(80.0, lim) == pytest.approx(0.232, abs=0.0005)
    assert cmp.tm_s(200.0, lim) == pytest.approx(0.315, abs=0.0005)
    pair = ChannelPair("L", "R", 0.6, (1000.0,), (0.2,), 0.05, True, 0.99)
    checks = {c.check: c for c in cmp.check_matching([pair], lim)}
    assert checks["level_matching"].passed is False            # front pair limit 0.5 dB
    other = ChannelPair("L", "C", 0.6, (1000.0,), (0.2,), 0.05, True, 0.99)
    assert {c.check: c for c in cmp.check_matching([other], lim)}["level_matching"].passed is True
    assert checks["arrival_matching"].passed is True
    noise = NoiseAnalysis(NR_BANDS_HZ, tuple(nr_curve_db(16.0)), True, 16.0, 1000.0)
    bn = cmp.check_background_noise(noise, "", lim)
    assert bn.passed is False and bn.value == 16.0 and bn.limit == 15.0
    assert cmp.check_background_noise(None, "no recording", lim).passed is None
    er = cmp.check_early_reflections({"L": (-12.0, 3.0), "R": (-9.5, 4.0)}, lim)
    assert er.passed is False and er.value == -9.5 and er.limit == -10.0


def test_geometry_checks():
    lim = load_limits()
    checks = {c.check: c for c in cmp.check_geometry((6.6, 5.0, 3.0), lim)}
    assert checks["floor_area"].passed is True and checks["proportions"].passed is True
    checks = {c.check: c for c in cmp.check_geometry((4.0, 4.0, 2.0), lim)}
    assert checks["proportions"].passed is False and "integer" in checks["proportions"].detail


def test_limit_table_validation(tmp_path: Path):
    bad = tmp_path / "lim.toml"
    text = (Path(__file__).resolve().parent.parent / "calib" / "data" / "compliance_limits.toml").read_text()
    bad.write_text(text.replace("max_nr = 15.0", "max_nr = \"fifteen\"\nbogus = 1"))
    with pytest.raises(ConfigError, match=r"unknown key background_noise.bogus; background_noise.max_nr must be a number"):
        load_limits(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_limits(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("schema_version = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_limits(broken)


# --- waterfall / spectrogram ------------------------------------------------------------------
def test_waterfall_slices_decay_at_the_mode_rate():
    T, f0 = 0.5, 60.0
    t = np.arange(2 * FS) / FS
    x = np.zeros(2 * FS + 500)
    x[500] = 1e-3
    x[500:] += np.exp(-3 * math.log(10) / T * t) * np.sin(2 * np.pi * f0 * t)
    wf = waterfall(x, fs=FS, step_ms=50, n_slices=6, window_ms=300)
    i = int(np.argmin(abs(wf.freqs_hz - f0)))
    steps = np.diff(wf.level_db[1:, i])
    # 60 dB per T: each 50 ms step removes 6 dB at the mode (±0.5 dB: window edges, smoothing)
    np.testing.assert_allclose(steps, -60 * 0.05 / T, atol=0.5)
    sp = spectrogram(x, fs=FS)
    assert sp.level_db.shape == (sp.times_s.size, sp.freqs_hz.size) and sp.level_db.max() == 0.0
    short = spectrogram(x[:6000], fs=FS, length_ms=500)     # shorter than the requested span
    assert short.times_s[-1] <= (6000 - 500) / FS
    with pytest.raises(SignalError, match="must be positive"):
        waterfall(x, fs=FS, step_ms=0)
