"""The dual-channel FFT estimator of the watch against analytic truth (monitor/watch_estimate.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from monitor.watch_estimate import COND_MAX, SpectralAverager, find_delay, hann, lag_window

FS = 8000
N = 1024


def _run(x: np.ndarray, y: np.ndarray, *, tau_s: float = 1e3, f_lo=50.0, f_hi=3500.0) -> dict:
    av = SpectralAverager(fs=FS, n_inputs=x.shape[0], n_fft=N, f_lo_hz=f_lo, f_hi_hz=f_hi, tau_s=tau_s)
    for s in range(0, y.size - N + 1, N // 2):
        av.add_frame(x[:, s:s + N], y[s:s + N])
    return av.estimate()


def _fir(seed: int, n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(n) * np.exp(-np.arange(n) / 12.0)
    return h


def _truth(h: np.ndarray, f_hz: np.ndarray) -> np.ndarray:
    return signal.freqz(h, worN=f_hz, fs=FS)[1]


def test_single_input_h1_and_its_random_error_are_right():
    """One input, uncorrelated noise at the output: H1 is unbiased and the B&P error
    sqrt(1-g2)/(|g| sqrt(2 nd)) predicts the scatter (ratio within 0.75..1.35 over ~400 bins)."""
    rng = np.random.default_rng(1)
    h = _fir(2)
    x = rng.standard_normal((1, 200 * N))
    clean = signal.lfilter(h, 1.0, x[0])
    y = clean + 0.3 * np.std(clean) * rng.standard_normal(x.shape[1])
    e = _run(x, y)
    H, eps = e["H"][:, 0], e["eps"][:, 0]
    rel = np.abs(np.abs(H) / np.abs(_truth(h, e["freqs_hz"])) - 1.0)
    ok = np.isfinite(eps) & (eps < 0.2)
    assert ok.sum() > 300
    # rms of the observed relative magnitude error against the predicted error
    ratio = np.sqrt(np.mean((rel[ok] / eps[ok]) ** 2))
    assert 0.75 < ratio < 1.35
    # coherence of signal over noise: 1 / (1 + 0.09 |H|^-2 mean|H|^2)-ish; here simply high and < 1
    assert 0.5 < np.median(e["coh"]) < 1.0
    assert np.all(e["sep"][np.isfinite(H)] == pytest.approx(1.0))


def test_two_independent_inputs_are_both_recovered():
    rng = np.random.default_rng(3)
    h1, h2 = _fir(4), -0.5 * _fir(5)
    x = rng.standard_normal((2, 120 * N))
    y = signal.lfilter(h1, 1.0, x[0]) + signal.lfilter(h2, 1.0, x[1]) + 1e-3 * rng.standard_normal(x.shape[1])
    e = _run(x, y)
    for i, h in enumerate((h1, h2)):
        t = _truth(h, e["freqs_hz"])
        good = np.abs(t) > 0.2 * np.median(np.abs(t))
        # lag weighting of a 64-tap FIR in a 1024 window: under 1 % (analytic c(64) = 0.99)
        assert np.median(np.abs(e["H"][good, i] / t[good] - 1.0)) < 0.02
    assert np.median(e["sep"]) > 0.95


def test_identical_inputs_are_not_inverted():
    """A mono programme: Gxx is singular in every bin; nothing is inverted, separability 0."""
    rng = np.random.default_rng(4)
    s = rng.standard_normal(60 * N)
    x = np.stack([s, s])
    y = signal.lfilter(_fir(6), 1.0, s) + signal.lfilter(_fir(7), 1.0, s)
    e = _run(x, y)
    assert np.all(e["cond"] >= COND_MAX)
    assert np.all(np.isnan(e["H"]))
    assert np.all(e["sep"] == 0.0)


def test_separability_of_partly_coherent_inputs_is_analytic():
    """L = m + s, R = m + t (m common, s and t independent, equal powers Pm, Ps):
    γ²_LR = (Pm / (Pm + Ps))², separability 1 − γ²; Pm = 4 Ps gives 0.36."""
    rng = np.random.default_rng(5)
    n = 400 * N
    m = 2.0 * rng.standard_normal(n)
    x = np.stack([m + rng.standard_normal(n), m + rng.standard_normal(n)])
    y = signal.lfilter(_fir(8), 1.0, x[0]) + signal.lfilter(_fir(9), 1.0, x[1])
    e = _run(x, y)
    assert np.median(e["sep"]) == pytest.approx(0.36, abs=0.02)   # estimate of γ² over ~400 averages
    # ... and H still found (the noise-free output: error from the window only)
    t = _truth(_fir(8), e["freqs_hz"])
    good = np.abs(t) > 0.2 * np.median(np.abs(t))
    assert np.median(np.abs(e["H"][good, 0] / t[good] - 1.0)) < 0.02


def test_lag_window_is_what_welch_h1_converges_to():
    """An IR longer than the window: the Welch H1 of white input equals the transform of h·c."""
    rng = np.random.default_rng(6)
    n_h = 700                                      # 0.68 of the window
    h = rng.standard_normal(n_h) * np.exp(-np.arange(n_h) / 300.0)
    x = rng.standard_normal((1, 1500 * N))
    y = signal.lfilter(h, 1.0, x[0])
    e = _run(x, y, f_lo=50.0, f_hi=3500.0)
    c = lag_window(N)
    assert c[0] == pytest.approx(1.0) and np.all(np.diff(c[: N // 2]) < 0)
    weighted = np.zeros(N)
    weighted[:n_h] = h * c[:n_h]
    k = np.round(e["freqs_hz"] * N / FS).astype(int)
    expect = np.fft.rfft(weighted)[k]
    full = np.fft.rfft(h, N)[k]
    err_w = np.median(np.abs(e["H"][:, 0] - expect) / np.abs(full))
    err_full = np.median(np.abs(e["H"][:, 0] - full) / np.abs(full))
    assert err_w < 0.1 < err_full
    assert hann(4).tolist() == pytest.approx([0.0, 0.5, 1.0, 0.5])


@pytest.mark.parametrize("delay", [0, 37, 1234])
def test_find_delay_on_coloured_programme(delay):
    rng = np.random.default_rng(delay)
    # a coloured, tonal programme: two sines and low-passed noise in each of two feeds
    t = np.arange(5 * FS) / FS
    base = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal((2, t.size)), axis=1)
    x = base + np.sin(2 * np.pi * 110 * t) + 0.5 * np.sin(2 * np.pi * 220 * t)
    y = np.zeros(t.size)
    y[delay:] = 0.8 * x[0, : t.size - delay] + 0.5 * x[1, : t.size - delay]
    lag, prom = find_delay(x, y, max_lag_samples=2000)
    assert lag == delay
    assert prom > 8


def test_three_inputs_general_path():
    """L, C, R (p = 3: the general inverse), two of them partly coherent: all three recovered."""
    rng = np.random.default_rng(8)
    n = 150 * N
    m = rng.standard_normal(n)
    x = np.stack([m + rng.standard_normal(n), rng.standard_normal(n), m + rng.standard_normal(n)])
    hs = [_fir(10), _fir(11), _fir(12)]
    y = sum(signal.lfilter(h, 1.0, xi) for h, xi in zip(hs, x)) + 1e-3 * rng.standard_normal(n)
    e = _run(x, y)
    for i, h in enumerate(hs):
        t = _truth(h, e["freqs_hz"])
        good = np.abs(t) > 0.2 * np.median(np.abs(t))
        assert np.median(np.abs(e["H"][good, i] / t[good] - 1.0)) < 0.02
    # the independent centre is fully separable, the coherent pair 1 - 0.5^2 = 0.75
    assert np.median(e["sep"][:, 1]) == pytest.approx(1.0, abs=0.03)
    assert np.median(e["sep"][:, 0]) == pytest.approx(0.75, abs=0.04)
