"""The safety stage: true-peak metering (EBU Tech 3341), limiter ceiling, sanitiser, jump guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.errors import ConfigError
from monitor.limiter import TP_GAIN_MAX, Limiter, true_peak_dbtp

from conftest import shared_data

FS = 48000


def sine(freq_hz: float, amp: float, phase_deg: float, seconds: float = 1.0) -> np.ndarray:
    """A sine with 10 ms raised-cosine fades, as the Tech 3341 signals have (an abrupt start
    makes the interpolator ring and read high)."""
    t = np.arange(int(seconds * FS)) / FS
    x = amp * np.sin(2 * np.pi * freq_hz * t + np.radians(phase_deg))
    k = int(0.01 * FS)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
    x[:k] *= ramp
    x[-k:] *= ramp[::-1]
    return x[None, :]


@pytest.mark.parametrize("freq_div,amp,phase,expected", [
    (4, 0.5, 0.0, -6.0), (4, 0.5, 45.0, -6.0), (6, 0.5, 60.0, -6.0), (8, 0.5, 67.5, -6.0), (4, 1.41, 45.0, 3.0),
])
def test_true_peak_meter_tech3341_cases_15_to_19(freq_div, amp, phase, expected):
    # EBU Tech 3341 Table 1 cases 15-19 (STANDARDS.md §5.2): tolerance +0.2 / -0.4 dB
    tp = true_peak_dbtp(sine(FS / freq_div, amp, phase))
    assert expected - 0.4 <= tp <= expected + 0.2


@pytest.mark.parametrize("name,expected", [
    ("seq-3341-15-24bit.wav.wav", -6.0), ("seq-3341-16-24bit.wav.wav", -6.0), ("seq-3341-17-24bit.wav.wav", -6.0),
    ("seq-3341-18-24bit.wav.wav", -6.0), ("seq-3341-19-24bit.wav.wav", 3.0), ("seq-3341-20-24bit.wav.wav", 0.0),
    ("seq-3341-21-24bit.wav.wav", 0.0), ("seq-3341-22-24bit.wav.wav", 0.0), ("seq-3341-23-24bit.wav.wav", 0.0),
])
def test_true_peak_meter_on_ebu_files(name, expected):
    from calib.audio_io import read_audio

    x, fs = read_audio(shared_data("ebu-tech3341", name))
    assert fs == 48000
    tp = true_peak_dbtp(x)
    assert expected - 0.4 <= tp <= expected + 0.2  # Tech 3341 tolerance +0.2/-0.4 dB


def run_limiter(lim: Limiter, x: np.ndarray, block: int) -> np.ndarray:
    y = np.zeros_like(x)
    for s in range(0, x.shape[1] - block + 1, block):
        lim.process(x[:, s:s + block].copy(), y[:, s:s + block])
    return y


@pytest.mark.parametrize("block", [256, 37, 9600])
def test_limiter_holds_true_peak_ceiling_on_intersample_peaks(block):
    """fs/4 at 45 deg, 1.41 FS: samples at 1.0 but true peak +3 dBTP (Tech 3341 case 19)."""
    x = np.repeat(sine(FS / 4, 1.41, 45.0, 2.0), 2, axis=0).astype(np.float32)
    lim = Limiter(2, fs=FS, max_block=block, ceiling_dbfs=-1.0, jump_db=0)
    y = run_limiter(lim, x, block)
    # the meter's own tolerance is +0.2 dB; the limiter uses the same interpolator
    assert true_peak_dbtp(y) <= -1.0 + 0.2
    assert np.max(np.abs(y)) <= lim.ceiling
    # steady state: gain settles to ceiling/true peak = -1 - 3.0 dB, within 0.1 dB
    steady = np.max(np.abs(y[:, FS:]))
    assert abs(20 * np.log10(steady) - (-1.0 - 3.0)) < 0.1
    assert lim.clipped_samples == 0  # the hard guard never had to act


def test_limiter_is_transparent_below_the_ceiling():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 256 * 180)) * 0.05).astype(np.float32)  # peaks ~ -12 dBFS
    lim = Limiter(2, fs=FS, max_block=256)
    y = run_limiter(lim, x, 256)
    D = lim.delay_samples
    np.testing.assert_array_equal(y[:, D:], x[:, : x.shape[1] - D])  # bit-exact, just delayed
    assert lim.limited_samples == 0


def test_limiter_block_and_chunk_processing_agree():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 48000)) * np.linspace(0.1, 3.0, 48000)).astype(np.float32)
    y1 = run_limiter(Limiter(2, fs=FS, max_block=240, jump_db=0), x, 240)
    y2 = run_limiter(Limiter(2, fs=FS, max_block=9600, jump_db=0), x, 9600)
    # same gain arithmetic per sample; the candidate search differs only in which samples
    # it interpolates (both include every sample that can reach the ceiling): <= 1e-6 FS
    np.testing.assert_allclose(y1, y2, atol=1e-6)


def test_limiter_attack_is_smooth_and_anticipates():
    """A full-scale burst out of silence: the gain falls before the burst, in A samples."""
    x = np.zeros((1, 4800), np.float32)
    x[0, 2400:] = 1.0
    lim = Limiter(1, fs=FS, max_block=4800, ceiling_dbfs=-1.0, jump_db=0)
    y = np.zeros_like(x)
    lim.process(x.copy(), y)
    D = lim.delay_samples
    out = y[0, D + 2400 - 60:D + 2400 + 200]
    assert np.max(np.abs(y)) <= lim.ceiling
    assert np.max(np.abs(np.diff(out))) < 0.9  # no step to full scale at the onset
    assert lim.clipped_samples == 0


def test_nan_and_inf_never_reach_the_output():
    x = np.ones((2, 512), np.float32) * 0.1
    x[0, 10] = np.nan
    x[1, 20] = np.inf
    x[1, 30] = -np.inf
    lim = Limiter(2, fs=FS, max_block=512)
    y = np.zeros_like(x)
    lim.process(x, y)
    assert np.all(np.isfinite(y))
    assert lim.nonfinite_samples == 3


def test_level_jump_is_caught_and_ducked():
    rng = np.random.default_rng(2)
    quiet = rng.standard_normal((1, FS)) * 0.001           # -60 dBFS
    loud = np.sign(rng.standard_normal((1, FS))) * 1.0    # full-scale noise: 0 dBFS rms
    x = np.concatenate([quiet, loud], axis=1).astype(np.float32)
    lim = Limiter(1, fs=FS, max_block=256, jump_duck_db=12.0)
    y = run_limiter(lim, x, 256)
    assert lim.jumps >= 1
    D = lim.delay_samples
    # the burst (samples at +-1.0) leaves 12 dB down from its first block on; it recovers
    # at 12 dB/s, so 10 ms later it may be 0.12 dB higher (tolerance 0.05 dB: float32)
    first = np.abs(y[0, FS + D:FS + D + 480])
    assert np.max(first) <= 10 ** ((-12 + 0.12 + 0.05) / 20)
    assert np.min(first) >= 10 ** ((-12 - 0.05) / 20)
    # one burst, one event; the duck is gone after 1 s (+12 dB at 12 dB/s), and from then on
    # the limiter alone holds the true peak at the ceiling (binary noise has inter-sample
    # peaks ~5 dB over its samples, so samples sit near -6 dBFS)
    assert lim.jumps == 1
    assert lim._duck_db < 0.05  # 1 s minus one block after the jump: 0.03 dB left
    tail = y[:, 2 * FS - 9600:2 * FS - 256]
    assert -1.0 - 0.5 <= true_peak_dbtp(tail) <= -1.0 + 0.2


def test_quiet_start_of_music_is_not_a_jump():
    x = np.concatenate([np.zeros((1, FS)), sine(1000, 0.1, 0)], axis=1).astype(np.float32)  # -23 dBFS rms
    lim = Limiter(1, fs=FS, max_block=256)
    run_limiter(lim, x, 256)
    assert lim.jumps == 0


def test_bound_used_to_skip_interpolation_is_the_filters_l1_norm():
    # 20 lg 2.023 = 6.12 dB: no interpolated value exceeds the window maximum by more
    assert abs(20 * math.log10(TP_GAIN_MAX) - 6.12) < 0.01


def test_errors():
    with pytest.raises(ConfigError, match="ceiling"):
        Limiter(2, fs=FS, max_block=256, ceiling_dbfs=0.5)
    with pytest.raises(ConfigError, match="look-ahead"):
        Limiter(2, fs=FS, max_block=256, lookahead_s=0.5)
    with pytest.raises(ConfigError, match="rates"):
        Limiter(2, fs=FS, max_block=256, release_db_per_s=0)


def test_sparse_offline_true_peak_search_equals_full_interpolation():
    """Offline chunks (> 4096 samples, few loud samples) interpolate only windows that hold a
    sample above ceiling / TP_GAIN_MAX; block processing interpolates everything.  Both run
    the same float32 multiply-adds per window, so the limited output is identical (0 FS):
    music-like sparse peaks (-30 dBFS noise with clustered bursts over the ceiling)."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((2, 48000)) * 0.03).astype(np.float32)
    for s in (5000, 17000, 31000, 40000):   # short loud bursts: < 1/8 of a chunk is "loud"
        x[:, s:s + 200] *= 40.0
    lim_big = Limiter(2, fs=FS, max_block=24000, jump_db=0)
    y_big = run_limiter(lim_big, x, 24000)
    y_small = run_limiter(Limiter(2, fs=FS, max_block=256, jump_db=0), x[:, :48000 // 256 * 256], 256)
    assert lim_big.limited_samples > 0                      # the bursts were limited
    np.testing.assert_array_equal(y_big[:, : y_small.shape[1]], y_small)
    # and the ceiling holds in true peak (BS.1770 meter; 0.05 dB: the meter's own 4x grid)
    assert true_peak_dbtp(y_big) <= -1.0 + 0.05
