"""The vectorised multiply-accumulate of the compiled convolver (monitor.conv_kernels._dot)
against numpy's complex128 sums: every grouping of partitions (4/2/1 per sweep), bin counts
that are not a multiple of the 8-bin vectors, the shifted filter index of the paired pass,
the ``+=`` mode, ring wrap of the input slots."""

from __future__ import annotations

import numpy as np
import pytest

from monitor import kernels

pytestmark = pytest.mark.skipif(not kernels.available(), reason="compiled engine unavailable")


def reference(X, H, xb, hb, j, M, Kp, n, nt, hs):
    out = np.zeros(n, np.complex128)
    for m in range(nt):
        out += X[xb + ((j - m) % M) * Kp:][:n].astype(np.complex128) * H[hb + (m + hs) * Kp:][:n]
    return out


@pytest.mark.parametrize("M,nt,hs", [(1, 1, 0), (2, 2, 0), (3, 3, 0), (7, 7, 0), (7, 6, 1), (9, 9, 0),
                                     (14, 14, 0), (15, 14, 1), (5, 1, 0)])
@pytest.mark.parametrize("n,k0", [(129, 0), (513, 0), (88, 8), (5, 16), (1025, 520)])
def test_dot_matches_complex128_sums(M, nt, hs, n, k0):
    from monitor.conv_kernels import _dot

    rng = np.random.default_rng(M * 1000 + n + hs)
    Kp = -(-(k0 + n) // 8) * 8
    C, c = 3, 1
    X = kernels.aligned_zeros((C * M * Kp,), np.complex64)
    H = kernels.aligned_zeros((C * M * Kp,), np.complex64)
    X[:] = rng.standard_normal(X.size) + 1j * rng.standard_normal(X.size)
    H[:] = (rng.standard_normal(H.size) + 1j * rng.standard_normal(H.size)) * 0.1
    xb = c * M * Kp + k0
    for j in (0, 4, 11):                       # slots wrap around the ring
        for add in (False, True):
            Y = kernels.aligned_zeros((2 * Kp + 16,), np.complex64)
            y0 = (rng.standard_normal(Y.size) + 1j * rng.standard_normal(Y.size)).astype(np.complex64)
            Y[:] = y0
            yb = 8                              # 64-byte aligned, as every slot is
            _dot(X, H, Y, xb, xb, yb, j, M, Kp, n, nt, hs, add)
            want = reference(X, H, xb, xb, j, M, Kp, n, nt, hs) + (y0[yb:yb + n] if add else 0)
            got = Y[yb:yb + n].astype(np.complex128)
            # float32 products and sums of <= 15 terms of |x h| ~ 0.2: round-off ~1e-6 relative
            scale = np.sqrt(np.mean(np.abs(want) ** 2))
            assert np.max(np.abs(got - want)) <= 1e-5 * scale * max(1, nt)
            # bins outside the range are untouched
            assert np.array_equal(Y[:yb], y0[:yb]) and np.array_equal(Y[yb + n:], y0[yb + n:])
