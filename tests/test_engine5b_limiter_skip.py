"""The true-peak detector's exact skip (monitor.limkernels._raw_required, tight=True): windows
whose oversampled values provably stay under the aim are not interpolated, and the required
attenuation is the same BIT FOR BIT as interpolating every window with a loud sample
(tight=False, the detector as it was), on random, adversarial and musical blocks."""

from __future__ import annotations

import numpy as np
import pytest

from monitor import limkernels as lk
from monitor.limiter import DET_FIR, Limiter

pytestmark = pytest.mark.skipif(not lk.available(), reason="compiled limiter not available")

K = DET_FIR.shape[0] - 1


def _detect(xin, n, prm, tight):
    C = xin.shape[0]
    N = max(n, 64)
    span = np.zeros(K + N, np.float32)
    peak = np.zeros(N, np.float32)
    accp = np.zeros(N, np.float32)
    raw = np.full(N, -7.0)
    flag = np.zeros(N)
    got = lk._raw_required(xin.copy(), n, DET_FIR, span, peak, accp, raw, prm, flag, tight)
    return got, raw[:n].copy(), peak[:n].copy()


def _blocks(rng):
    """(C, K + n) detector inputs around the aim: what a monitor feed can hold."""
    from mixes.songs import make_song

    fs = 48000
    out = []
    for C in (1, 2, 5, 16):
        for n in (1, 17, 64, 128, 256):
            m = K + n
            t = np.arange(m)
            for level in (0.2, 0.4, 0.6, 0.85, 0.885, 0.89, 1.0, 1.5, 4.0):
                out.append(rng.standard_normal((C, m)) * level / 3)          # noise, peaks ~ level
                out.append(np.sign(rng.standard_normal((C, m))) * level)      # full-scale square-ish
                x = np.zeros((C, m))
                x[:, rng.integers(0, m, 3)] = level                            # sparse impulses
                out.append(x)
                f = rng.uniform(0.05, 0.5) * fs / 2
                ph = rng.uniform(0, 2 * np.pi, (C, 1))
                out.append(level * np.sin(2 * np.pi * f / fs * t + ph))       # inter-sample peaks
                out.append(level * np.sin(np.pi / 2 * t + np.pi / 4)[None, :].repeat(C, 0))  # fs/4, +3 dB
    song = make_song(7, duration_s=3.0, fs=fs).mix()
    song = song / np.abs(song).max()
    for gain in (10 ** (-7 / 20), 10 ** (-1 / 20), 1.0, 1.4):
        for s0 in range(0, song.shape[1] - 300, 4099):
            out.append(np.repeat(song[:, s0:s0 + K + 128], 1, 0) * gain)
    return [x.astype(np.float32) for x in out]


def test_skip_equals_full_detector_bit_for_bit():
    rng = np.random.default_rng(15)
    lim = Limiter(2, fs=48000, max_block=256, ceiling_dbfs=-1.0)
    prm = lim._prm.copy()
    skipped = tested = 0
    for x in _blocks(rng):
        n = x.shape[1] - K
        a = _detect(x, n, prm, False)
        b = _detect(x, n, prm, True)
        assert a[0] == b[0]
        if a[0]:
            assert np.array_equal(a[1], b[1])          # the required attenuation, bit for bit
        tested += 1
        skipped += int(not np.array_equal(a[2], b[2]))  # peaks differ where windows were skipped
    assert tested > 900 and skipped > 50               # the skip fired on many blocks


def test_tight_bound_really_bounds_every_phase():
    # the bound's premise checked directly: sum_k max_p |f[k, p]| |x[w + k]| >= every phase's |value|
    rng = np.random.default_rng(3)
    g = np.abs(DET_FIR.astype(np.float64)).max(axis=1)
    for _ in range(200):
        x = rng.standard_normal(K + 1) * rng.uniform(0.01, 3)
        vals = np.abs(DET_FIR.astype(np.float64).T @ x)
        assert vals.max() <= np.abs(x) @ g
