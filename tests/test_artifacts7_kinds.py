"""Artifact kinds planted the ways they happen (issue 12, session 8): 16-bit truncation in a
reverb tail and under a later 24-bit dither, a few ms bit-crushed to zeros in quiet music (two
jumps, one burst), and the clean counterparts that must not be flagged."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from conftest import shared_data
from mixes import artifact_clean as ac
from mixes.artifacts import dual_mono, polarity_inverted, truncation
from mixes.renderchecks import render_checks

FS = 48_000


def _tail(seed: int, level_dbfs: float, rt60_s: float, seconds: float = 5.0) -> np.ndarray:
    """A decaying stereo reverb tail: decorrelated low-passed noise, ``level_dbfs`` rms at the
    start, -60 dB after ``rt60_s``."""
    rng = np.random.default_rng(seed)
    k = int(seconds * FS)
    t = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal((2, k)), axis=1)
    t *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(t[:, : FS // 10] ** 2))
    return t * 10 ** (-3 * (np.arange(k) / FS) / rt60_s)


@pytest.mark.parametrize("level_dbfs,rt60_s", [(-40, 1.5), (-55, 3.0), (-70, 1.5)])
def test_a_reverb_tail_rounded_to_16_bits_is_truncation_and_dithered_is_not(level_dbfs, rt60_s):
    tail = _tail(int(-level_dbfs), level_dbfs, rt60_s)
    rounded = np.round(tail * 32768) / 32768
    ev = truncation(rounded, fs=FS)
    # both channels, at the bottom of the decay (below -90 dBFS: where the tail lives on its
    # last bits); the detail says what was found
    assert sorted(e.channel for e in ev) == [0, 1]
    assert all(e.level_db < -90 and "16 bits" in e.detail for e in ev)
    # TPDF dither: nothing, also when the dither stops where the tail falls below -120 dBFS
    # (a mastering tool's auto-blackout: digital silence after a dithered decay)
    dith = ac.to_bits(tail, 16, seed=1)
    assert truncation(dith, fs=FS) == []
    env = 10 ** (level_dbfs / 20) * 10 ** (-3 * (np.arange(tail.shape[1]) / FS) / rt60_s)
    gated = dith.copy()
    gated[:, env < 1e-6] = 0.0
    assert truncation(gated, fs=FS) == []


@pytest.fixture(scope="module")
def alt506():
    from mixes.songs_alt import make_song
    return make_song(506, duration_s=10.0).mix()


def test_truncated_then_redithered_at_24_bits_is_still_truncation(alt506):
    # a 6-s fade to -100 dB floored to 16 bits, then converted to 24 bits with TPDF dither
    # there: the 16-bit staircase (and its distortion) stays under the new, 256x finer noise
    x = alt506
    f = ac.faded(x, fs=FS, fade_s=6.0, silence_s=0.5)
    y16 = np.floor(f * 32768) / 32768
    y24 = ac.to_bits(y16, 24, seed=3)
    assert not np.array_equal(y24 * 32768, np.round(y24 * 32768))   # off the 16-bit grid
    ev = truncation(y24, fs=FS)
    assert ev and all(e.time_s > 3.0 for e in ev)
    assert all("finer dither" in e.detail for e in ev)
    # the same fade dithered at 16 bits and then at 24 bits: nothing
    assert truncation(ac.to_bits(ac.to_bits(f, 16, seed=4), 24, seed=5), fs=FS) == []


def test_a_burst_crushed_to_zeros_in_quiet_music_is_one_event_not_two_splices():
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    x = x.T.copy() * 0.5
    found = 0
    for k, t0 in enumerate((1.78, 3.26, 4.86, 6.95)):
        y = x.copy()
        p, m = int(t0 * fs), int((0.006 + 0.003 * k) * fs)
        y[:, p:p + m] = np.round(y[:, p:p + m] * 4) / 4        # 3 bits: quiet music rounds to 0
        r = render_checks(y, fs=fs)
        near = [e for e in r.artifacts + r.dropouts if t0 - 0.005 <= e.time_s <= t0 + m / fs + 0.005]
        # one event for the error (the digital silence it left; in music at -63 dBFS, below
        # the dropout rule's context, the one jump back out of the zeros), not a splice at each
        # edge nor a burst beside the dropout
        assert len(near) == 1, [(e.kind, e.time_s) for e in near]
        found += near[0].kind in ("digital_distortion", "silence")
    assert found >= 3
    assert render_checks(x, fs=fs).artifacts == ()


def test_polarity_in_a_wide_mix_and_a_nearly_mono_mix_is_not_dual_mono(alt506):
    x = alt506
    m, side = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
    # a wide mix: the side above ~250 Hz x2.5, bass and kick centred as in any normal mix
    side = side + 1.5 * signal.sosfiltfilt(signal.butter(2, 250, "highpass", fs=FS, output="sos"), side)
    wide = np.vstack([m + side, m - side])
    assert polarity_inverted(wide, fs=FS) == []
    ev = polarity_inverted(wide * np.array([[1.0], [-1.0]]), fs=FS)
    assert len(ev) == 1 and ev[0].time_s == 0.0 and "inverted polarity" in ev[0].detail
    # the mix summed to mono: dual mono; with a tiny decorrelated stereo reverb 30 dB down it
    # is a (nearly mono) stereo file: neither dual mono nor inverted
    assert [e.kind for e in dual_mono(np.vstack([m, m]), fs=FS)] == ["dual_mono"]
    rng = np.random.default_rng(7)
    k = int(1.2 * FS)
    ir = rng.standard_normal((2, k)) * 10 ** (-3 * (np.arange(k) / FS) / 1.2)
    ir /= np.sqrt(np.sum(ir ** 2, axis=1, keepdims=True))
    near = np.vstack([m, m]) + 10 ** (-30 / 20) * np.vstack([signal.fftconvolve(m, ir[c])[: m.size] for c in range(2)])
    arts = render_checks(near, fs=FS).artifacts
    assert not [e for e in arts if e.kind in ("dual_mono", "polarity_inverted")]
    # ... and a one-LSB difference is enough not to be identical
    y = np.vstack([m, m + 2.0 ** -23])
    assert dual_mono(y, fs=FS) == []
