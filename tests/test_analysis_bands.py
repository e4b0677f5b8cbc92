"""IEC 61260-1 bands: centres, labels, filter shape, band levels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from calib.analysis.bands import (
    OCTAVE_RATIO,
    band_centres_hz,
    band_edges_hz,
    band_filter_sos,
    band_levels_db,
    band_levels_from_arrays_db,
    band_magnitude,
    filter_bands,
    nominal_label,
    octave_centres_hz,
    third_octave_centres_hz,
)
from calib.errors import SignalError
from calib.types import FrequencyResponse


def test_octave_centres_are_base10_exact():
    fc = octave_centres_hz(31.5, 16000)
    # f_m = 1000·G^x, G = 10^0.3 (IEC 61260-1 eq. 2); exact to float precision
    expect = 1000.0 * (10 ** 0.3) ** np.arange(-5, 5)
    np.testing.assert_allclose(fc, expect, rtol=1e-12)
    assert [nominal_label(f) for f in fc] == ["31.5", "63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k"]


def test_third_octave_labels_and_count():
    fc = third_octave_centres_hz(25, 20000)
    assert len(fc) == 30
    labels = [nominal_label(f) for f in fc]
    assert labels[:6] == ["25", "31.5", "40", "50", "63", "80"]
    assert labels[-4:] == ["10k", "12.5k", "16k", "20k"]


def test_even_fraction_centres_straddle_1k():
    fc = band_centres_hz(900, 1100, fraction=6)
    # b even: f_m = 1000·G^((2x+1)/(2b)) → 1000·G^(±1/12), 1 kHz itself is a band edge
    np.testing.assert_allclose(fc, 1000 * OCTAVE_RATIO ** (np.array([-1, 1]) / 12), rtol=1e-12)


def test_edges_multiply_to_centre_squared():
    lo, hi = band_edges_hz([1000.0], fraction=3)
    assert lo[0] * hi[0] == pytest.approx(1e6, rel=1e-12)
    assert hi[0] / lo[0] == pytest.approx(OCTAVE_RATIO ** (1 / 3), rel=1e-12)


# Class-1 acceptance limits (filter gain re the mid-band, dB) at normalised frequencies f/f_m
# (IEC 61260:1995 / ANSI S1.11-2004 Table 1, as tabulated in the open-source ASCEE LASP
# limit-line module; the 2014 edition's table was not available to us [U]).  The band edge
# appears twice: at the edge the gain may fall to -5 dB, just beyond it must be <= -2 dB.
_CLASS1 = {
    1: ([1.0, 10 ** 0.0375, 10 ** 0.075, 10 ** 0.1125, 10 ** 0.15, 10 ** 0.15 * 1.0001,
         10 ** 0.3, 10 ** 0.6, 10 ** 0.9, 10 ** 1.2]),
    3: ([1.0, 1.02667, 1.05575, 1.08746, 1.12202, 1.12202 * 1.0001, 1.29437, 1.88173, 3.05365, 5.39195]),
}
_UPPER = [0.3] * 5 + [-2.0, -17.5, -42.0, -61.0, -70.0]
_LOWER = [-0.3, -0.4, -0.6, -1.3, -5.0] + [-np.inf] * 5


@pytest.mark.parametrize("fraction", [1, 3])
@pytest.mark.parametrize("fc, fs", [(1000.0, 48000), (63.0957, 44100), (7943.28, 48000)])
def test_filter_meets_class1_mask(fraction, fc, fs):
    sos = band_filter_sos(fc, fraction=fraction, fs=fs)
    for sign in (1, -1):
        f = np.array([fc * r ** sign for r in _CLASS1[fraction]])
        ok = f < fs / 2               # points above Nyquist do not exist for this sample rate
        _, h = signal.sosfreqz(sos, f[ok], fs=fs)
        g = 20 * np.log10(np.abs(h))
        assert np.all(g <= np.array(_UPPER)[ok] + 1e-9), g
        assert np.all(g >= np.array(_LOWER)[ok] - 1e-9), g
    # band edges are the -3 dB points of a Butterworth band-pass (±0.01 dB: design exactness)
    lo, hi = band_edges_hz([fc], fraction=fraction)
    _, he = signal.sosfreqz(sos, [lo[0], hi[0]], fs=fs)
    np.testing.assert_allclose(20 * np.log10(np.abs(he)), -3.0103, atol=0.01)


def test_closed_form_magnitude_equals_the_sos():
    fs = 48000
    f = np.linspace(1, 23999, 4000)
    for fc, b in ((31.62, 3), (1000.0, 1), (15848.9, 3)):
        _, h = signal.sosfreqz(band_filter_sos(fc, fraction=b, fs=fs), f, fs=fs)
        # same function in closed form: equal to float rounding of the SOS evaluation
        np.testing.assert_allclose(band_magnitude(f, fc, fraction=b, fs=fs), np.abs(h), atol=1e-9)


def test_band_above_nyquist_is_refused():
    with pytest.raises(SignalError, match="does not fit below Nyquist"):
        band_filter_sos(16000.0, fraction=1, fs=32000)


def test_unsupported_fraction():
    with pytest.raises(SignalError, match="not supported"):
        band_centres_hz(100, 1000, fraction=5)


def test_filter_bands_energy_of_sine():
    fs = 48000
    t = np.arange(fs) / fs
    x = np.sin(2 * np.pi * 1000 * t)
    y = filter_bands(x, octave_centres_hz(500, 2000), fraction=1, fs=fs)
    rms_db = 10 * np.log10(np.mean(y[:, fs // 2:] ** 2, axis=1) / 0.5)
    # the 1 kHz octave passes the sine at 0 dB (±0.05 dB: passband ripple-free Butterworth);
    # neighbours attenuate it by ≥ 15 dB (it sits 1 octave from their centres)
    assert abs(rms_db[1]) < 0.05
    assert rms_db[0] < -15 and rms_db[2] < -15


def test_band_levels_of_white_and_pink():
    f = np.linspace(0, 24000, 24001)
    flat = np.zeros((1, f.size))
    fr = FrequencyResponse(freqs_hz=f, magnitude_db=flat, channel_names=("L",))
    lv = band_levels_db(fr, octave_centres_hz(63, 8000), fraction=1)
    np.testing.assert_allclose(lv, 0.0, atol=1e-9)   # flat is 0 dB in every band
    # power ∝ 1/f: mean over [lo, hi] = ln(hi/lo)/(hi-lo) analytically
    ff = f[1:]
    pink = -10 * np.log10(ff)
    fc = octave_centres_hz(63, 8000)
    lo, hi = band_edges_hz(fc, fraction=1)
    expect = 10 * np.log10(np.log(hi / lo) / (hi - lo))
    got = band_levels_from_arrays_db(ff, pink[np.newaxis], fc, fraction=1)[0]
    # 1 Hz grid, trapezoid on a convex 1/f: error ≤ 0.01 dB down to the 63 Hz band
    np.testing.assert_allclose(got, expect, atol=0.01)


def test_band_outside_grid_is_nan():
    f = np.linspace(100, 1000, 100)
    got = band_levels_from_arrays_db(f, np.zeros(100), [31.5, 500], fraction=1)
    assert np.isnan(got[0]) and got[1] == pytest.approx(0.0)
