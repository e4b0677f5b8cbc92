"""DSP blocks: Thiran fractional delay, integer delay line, biquad cascade, K-weighting."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from calib.errors import ConfigError
from calib.profile import Biquad, peq_sos
from monitor.dsp import (FRACTIONAL_LATENCY_SAMPLES, THIRAN_ORDER, DelayLine, SosCascade, k_weighting_sos,
                         split_delay, thiran_allpass)


@pytest.mark.parametrize("d", [2.05, 2.5, 2.9, 3.0 + 1e-3, 3.049])
def test_thiran_is_allpass_with_exact_dc_group_delay(d):
    b, a = thiran_allpass(d)
    w, h = ss.freqz(b, a, worN=512)
    # all-pass by construction (numerator = reversed denominator): |H| = 1 to rounding
    np.testing.assert_allclose(np.abs(h), 1.0, atol=1e-12)
    _, gd = ss.group_delay((b, a), w=[1e-4])
    # maximally flat at DC: the group delay there is D (1e-6 sample: numerical derivative)
    assert abs(gd[0] - d) < 1e-6
    # poles inside the unit circle (stable for D > N - 1)
    assert np.all(np.abs(np.roots(a)) < 1.0)


def test_thiran_group_delay_flat_in_the_audio_band():
    """Order 3 holds the delay within 0.02 sample up to 0.2 fs (9.6 kHz at 48 kHz).

    0.02 sample is 0.4 us at 48 kHz, far inside the 10 us arrival-time tolerance of a
    stereo pair (STANDARDS.md §8.2)."""
    for d in (2.05, 2.5, 2.75, 2.99, 3.0 + 1e-6, 3.049):
        b, a = thiran_allpass(d)
        _, gd = ss.group_delay((b, a), w=np.linspace(0.01, 0.2 * 2 * np.pi, 50))
        assert np.max(np.abs(gd - d)) < 0.02


def test_split_delay_sums_to_request_plus_fixed_latency():
    for want in (0.0, 0.25, 1.0, 2.5, 13.7, 480.001):
        whole, frac = split_delay(want)
        total = whole + (frac or 0.0)
        assert abs(total - (want + FRACTIONAL_LATENCY_SAMPLES)) < 1e-9
        assert whole >= 0
        if frac is not None:
            assert THIRAN_ORDER - 1 < frac < THIRAN_ORDER + 0.05
    assert split_delay(3.0)[1] is None


def test_thiran_rejects_unstable_delay():
    with pytest.raises(ConfigError, match="must exceed"):
        thiran_allpass(1.5, order=3)


@pytest.mark.parametrize("block", [1, 7, 64, 333])
def test_delay_line_is_exact(block):
    d = DelayLine([0, 5, 1000], max_block=block)
    rng = np.random.default_rng(block)
    x = rng.standard_normal((3, block * 40)).astype(np.float32)
    y = np.zeros_like(x)
    for s in range(0, x.shape[1], block):
        d.process(x[:, s:s + block], y[:, s:s + block])
    for c, k in enumerate([0, 5, 1000]):
        np.testing.assert_array_equal(y[c, k:], x[c, : x.shape[1] - k])
        assert not y[c, :k].any()


def test_delay_line_rejects_negative():
    with pytest.raises(ConfigError, match="non-negative"):
        DelayLine([-1], max_block=8)


def test_sos_cascade_blockwise_equals_one_shot_bit_exact():
    fs = 48000
    sos = peq_sos([Biquad("peaking", 40.0, -8.0, 6.0), Biquad("highshelf", 4000.0, 3.0)], fs=fs)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 37 * 200)).astype(np.float32)
    ref = ss.sosfilt(sos, x[0].astype(np.float64)).astype(np.float32)
    casc = SosCascade([sos, None])
    y = x.copy()
    for s in range(0, x.shape[1], 37):
        casc.process(y[:, s:s + 37])
    # same DF2T recursion in float64 with carried state: identical samples
    np.testing.assert_array_equal(y[0], ref)
    np.testing.assert_array_equal(y[1], x[1])


def test_sos_cascade_recovers_from_poisoned_state():
    casc = SosCascade([np.array([[1.0, 0, 0, 1.0, -1.9, 0.95]])])
    x = np.full((1, 16), np.inf, np.float32)
    casc.process(x)
    assert not x.any()  # silenced, state reset
    x2 = np.ones((1, 4), np.float32)
    casc.process(x2)
    assert np.all(np.isfinite(x2))


def test_sos_cascade_rejects_bad_sections():
    with pytest.raises(ConfigError, match="finite"):
        SosCascade([np.array([[1.0, 0, 0, 1.0, np.nan, 0]])])


def test_k_weighting_reproduces_bs1770_table_at_48k():
    table = np.array([[1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0,
                       -1.69065929318241, 0.73248077421585],
                      [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621]])
    # the Rec. prints 14 decimals; the analogue redesign matches to 1e-10
    np.testing.assert_allclose(k_weighting_sos(fs=48000), table, atol=1e-10)
    _, h = ss.sosfreqz(k_weighting_sos(fs=48000), worN=[997.0], fs=48000)
    # STANDARDS.md §5.1: +0.691 dB at 997 Hz (cancels the -0.691 offset), to 0.001 dB
    assert abs(20 * np.log10(abs(h[0])) - 0.691) < 0.001
