"""mixes.lpc: the batched Levinson–Durbin recursion against scipy's Toeplitz solver."""

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from mixes.lpc import autocorr_rows, levinson_rows


def test_levinson_rows_equals_toeplitz_solution_and_recovers_an_ar_process():
    rng = np.random.default_rng(3)
    a_true = np.array([1.0, -1.6, 0.95, -0.2])                 # a stable AR(3)
    x = lfilter([1.0], a_true, rng.standard_normal((5, 40_000)), axis=-1)
    r = autocorr_rows(x, 3)
    # autocorrelation by definition, row by row
    for k in range(4):
        assert np.allclose(r[:, k], np.sum(x[:, : x.shape[1] - k] * x[:, k:], axis=1))
    A = levinson_rows(r)
    for row in range(5):     # the normal equations R a = -r, solved independently
        ref = solve_toeplitz(r[row, :3], -r[row, 1:4])
        assert np.allclose(A[row, 1:], ref, rtol=1e-9, atol=1e-12)
    # 40,000 samples: the estimate is within a few hundredths of the true coefficients
    assert np.max(np.abs(A[:, 1:] - a_true[1:])) < 0.05
    assert np.all(A[:, 0] == 1.0)


def test_levinson_rows_silent_row_keeps_a_trivial_filter():
    r = np.zeros((2, 5))
    r[1] = [4.0, 2.0, 1.0, 0.5, 0.25]            # AR(1) with a = -0.5
    A = levinson_rows(r)
    assert np.all(np.isfinite(A))
    assert np.allclose(A[0], [1, 0, 0, 0, 0])
    assert np.allclose(A[1], [1, -0.5, 0, 0, 0], atol=1e-12)
