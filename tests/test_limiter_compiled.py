"""The compiled safety stage (monitor.limkernels) against the numpy limiter it replaces.

Same inputs through ``Limiter`` with ``compiled = False`` (the numpy reference) and the
compiled default, block by block: outputs null <= -120 dB (the issue's bar; measured -143 to
-173 dB where limiting, bit-exact where not: the only differences are numpy's SIMD float32
log10 against libm's, one float32 ulp of the attenuation in dB), and every counter and state
scalar the engine reports agrees.
"""

from __future__ import annotations

import numpy as np
import pytest

from monitor import limkernels
from monitor.limiter import Limiter

pytestmark = pytest.mark.skipif(not limkernels.available(), reason="compiled engine unavailable (numba/FFTW)")

FS = 48000


def _signals():
    rng = np.random.default_rng(7)
    n = FS // 2
    t = np.arange(n) / FS
    yield "intersample sine + 997 Hz", np.vstack([1.3 * np.sin(2 * np.pi * 11990 * t + 0.7),
                                                 0.9 * np.sin(2 * np.pi * 997 * t)])
    sq = np.sign(np.sin(2 * np.pi * 440 * t))
    yield "full-scale square", np.vstack([sq, -sq])
    x = rng.standard_normal((2, n)) * 0.01
    x[:, n // 3:n // 3 + 4800] *= 100           # +40 dB burst: a level jump, then limiting
    yield "noise burst", x
    x = rng.standard_normal((3, n)) * 0.3
    x[0, 1000:1010] = np.nan
    x[1, 5000] = np.inf
    x[2, 7000] = -np.inf
    yield "noise with NaN/Inf, 3 ch", x
    ny = np.tile([1.0, -1.0], n // 2) * 0.95
    yield "Nyquist pattern", np.vstack([ny, ny])
    yield "programme level noise", rng.standard_normal((2, n)) * 0.05
    # music-like: decaying plucks at mastered level, some over the ceiling
    env = np.exp(-((np.arange(n) % 6000) / 1500.0))
    yield "plucks", np.vstack([1.2 * env * np.sin(2 * np.pi * 220 * t), 0.8 * env * np.sin(2 * np.pi * 330 * t)])


def _run(lim: Limiter, x: np.ndarray, block: int) -> np.ndarray:
    y = np.zeros_like(x)
    for s in range(0, x.shape[1] - block + 1, block):
        lim.process(x[:, s:s + block].copy(), y[:, s:s + block])
    return y


@pytest.mark.parametrize("block", [128, 37, 512, 9600])
def test_compiled_limiter_equals_numpy_limiter(block):
    for name, x in _signals():
        x = x.astype(np.float32)
        kw = dict(fs=FS, max_block=block, ceiling_dbfs=-1.0)
        ref = Limiter(x.shape[0], **kw)
        ref.compiled = False
        lim = Limiter(x.shape[0], **kw)
        assert lim.compiled
        y0 = _run(ref, x, block).astype(np.float64)
        y1 = _run(lim, x, block).astype(np.float64)
        err = np.sqrt(np.mean((y1 - y0) ** 2))
        rms = np.sqrt(np.mean(y0 ** 2))
        # -120 dB: the bar for the compiled engine against the numpy reference
        assert err <= 1e-6 * rms, f"{name} @ {block}: null {20 * np.log10(err / rms):.1f} dB"
        for k in ("nonfinite_samples", "jumps", "limited_samples", "clipped_samples", "_t", "_idle", "_a_live"):
            assert getattr(lim, k) == getattr(ref, k), (name, block, k)
        # dB scalars: float32 log10 ulps apart at most (1e-5 dB)
        for k in ("gain_reduction_db", "_duck_db", "_r_last", "_slow_pow"):
            assert getattr(lim, k) == pytest.approx(getattr(ref, k), abs=1e-5), (name, block, k)


def test_compiled_limiter_keeps_the_true_peak_ceiling_and_its_counters():
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((2, FS)) * 0.8).astype(np.float32)
    x[0, 100] = np.nan
    lim = Limiter(2, fs=FS, max_block=128, ceiling_dbfs=-1.0, jump_duck_db=0.0)
    y = _run(lim, x, 128)
    assert np.max(np.abs(y)) <= lim.ceiling
    assert lim.nonfinite_samples == 1
    assert lim.limited_samples > 0 and lim.gain_reduction_db >= 0.0
    assert lim.clipped_samples == 0          # the sample-peak hard guard never had to act


def test_sanitiser_kernel_counts_and_zeroes_on_column_slices():
    buf = np.ones((2, 10), np.float32)
    buf[1, 3] = np.nan
    buf[0, 7] = np.inf                        # outside the slice below: untouched
    lim = Limiter(2, fs=FS, max_block=8)
    lim._sanitise(buf[:, :5])
    assert lim.nonfinite_samples == 1 and buf[1, 3] == 0.0 and np.isinf(buf[0, 7])
