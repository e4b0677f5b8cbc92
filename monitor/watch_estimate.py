"""Dual-channel FFT estimation behind :mod:`monitor.watch`: delay finding, exponentially
averaged cross-/auto-spectra of several inputs, the multi-input frequency response
``H = Gxx⁻¹ Gxy`` per bin with its separability and random error.

Method (Bendat & Piersol, *Random Data*, 4th ed. 2010, ch. 7 "multiple-input/output
relationships" and ch. 9 "statistical errors in advanced estimates"; ../shared/METHODS.md §2):

* The mic hears ``Y = Σ_i H_i X_i + N`` (``X_i`` the feed of speaker ``i``, ``N`` room noise,
  talking: anything not in the feeds).
* Per frame (Hann window, 50 % overlap) the spectra ``X`` (p inputs) and ``Y`` update
  ``Gxx[a, b] = E[X_a* X_b]``, ``Gxy[a] = E[X_a* Y]``, ``Gyy = E[|Y|²]`` by an exponential
  (forgetting) average with time constant ``tau_s`` of *usable* programme (silent frames are
  skipped, so silence holds the estimate instead of forgetting it).
* ``H = Gxx⁻¹ Gxy`` (B&P eq. 7.xx, the multiple-input H1); the residual (noise) spectrum is
  ``Gnn = Gyy − Gxyᴴ H`` and the multiple coherence ``γ²_y:x = 1 − Gnn / Gyy``.
* Random error of ``H_i`` (B&P eq. 9.90 in matrix form): ``Var H_i ≈ Gnn [Gxx⁻¹]_ii / n_d``;
  the normalised error of ``|H_i|`` is ``ε_i = sqrt(Gnn [Gxx⁻¹]_ii / (2 n_d)) / |H_i|``.  With
  one input this is the textbook ``sqrt(1 − γ²) / (|γ| sqrt(2 n_d))``.
* Separability of input ``i``: ``s_i = 1 / (Gxx_ii [Gxx⁻¹]_ii) = 1 − γ²_i:others`` (the share of
  ``X_i``'s power that the other feeds do not explain; 0 for a mono programme, 1 for
  independent feeds).  The error above grows as ``1/sqrt(s_i)``; bins whose ``Gxx`` has a
  condition number above :data:`COND_MAX` are not inverted at all.

The number of averages of an exponential average with forgetting factor ``λ`` is
``n_d = (Σw)² / Σw²`` over the frame weights (``(1+λ)/(1−λ)`` in the steady state), times
:data:`OVERLAP_EFFICIENCY` for the correlation of 50 %-overlapped Hann frames.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sp_fft

__all__ = ["SpectralAverager", "find_delay", "hann", "lag_window", "COND_MAX"]

#: Bins whose input cross-spectral matrix is worse conditioned than this are not inverted
#: (the feeds are numerically one signal there: e.g. L = R).
COND_MAX = 1.0e4
#: 50 %-overlapped Hann frames are not independent; Welch (1967) gives about 0.95 of the
#: variance reduction of independent frames for stationary noise; 0.9 keeps a margin.
OVERLAP_EFFICIENCY = 0.9


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples (DFT-even)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def lag_window(n: int) -> np.ndarray:
    """Normalised autocorrelation ``c(τ) = Σ w(t) w(t+τ) / Σ w²`` of the Hann window, for lags
    ``τ = 0 .. n−1`` (``c(−τ) = c(τ)``).

    For a white input, the Welch estimate of ``H1`` with window ``w`` converges to the
    transform of ``h(τ)·c(τ)``: the same weighting is applied to the baseline IR before the
    comparison, so a room whose reverberation outlasts part of the window is not called a
    level change.
    """
    w = hann(n)
    spec = np.fft.rfft(w, 2 * n)
    c = np.fft.irfft(np.abs(spec) ** 2, 2 * n)[:n]
    return c / c[0]


def find_delay(x: np.ndarray, y: np.ndarray, *, max_lag_samples: int) -> tuple[int, float]:
    """Delay of the mic ``y`` after the feeds ``x`` (whole samples) by GCC-PHAT, and the
    peak's prominence.

    The phase transform ``Y X*/|Y X*|`` whitens the programme (music is far from white), so the
    correlation peaks sharply at the arrival of the sound; ``x`` is the sum of the feeds.

    Parameters
    ----------
    x : ndarray, shape (p, n)
        Feeds.
    y : ndarray, shape (n,)
        Mic.
    max_lag_samples : int
        Longest delay searched (samples).

    Returns
    -------
    lag_samples : int
        Lag of the largest peak in ``0 .. max_lag_samples``.
    prominence : float
        Peak over the median absolute correlation (> 8 is a clear peak).
    """
    s = np.asarray(x, dtype=np.float64).sum(axis=0)
    y = np.asarray(y, dtype=np.float64)
    n = 1 << int(s.size + max_lag_samples).bit_length()
    cross = np.fft.rfft(y, n) * np.conj(np.fft.rfft(s, n))
    mag = np.abs(cross)
    cross /= np.maximum(mag, 1e-12 * max(float(mag.max()), 1e-300))
    r = np.abs(np.fft.irfft(cross, n)[: max_lag_samples + 1])
    k = int(np.argmax(r))
    med = float(np.median(r)) or 1e-300
    return k, float(r[k] / med)


def _condition(g: np.ndarray) -> np.ndarray:
    """Condition number of each Hermitian positive semi-definite matrix ``g[k]`` (p × p);
    closed form for p ≤ 2 (the eigenvalues of [[a, b], [b*, d]] are m ± sqrt(q² + |b|²))."""
    nb, p = g.shape[0], g.shape[1]
    if p == 1:
        return np.ones(nb)
    if p == 2:
        a, d = g[:, 0, 0].real, g[:, 1, 1].real
        m, q = 0.5 * (a + d), 0.5 * (a - d)
        r = np.sqrt(q * q + np.abs(g[:, 0, 1]) ** 2)
        lo, hi = m - r, m + r
    else:
        ev = np.linalg.eigvalsh(g)
        lo, hi = ev[:, 0], ev[:, -1]
    return hi / np.maximum(lo, hi * 1e-300 + 1e-300)


def _inverse(g: np.ndarray) -> np.ndarray:
    """Inverse of each matrix ``g[k]``; closed form for p ≤ 2."""
    p = g.shape[1]
    if p == 1:
        return 1.0 / g
    if p == 2:
        a, b, c, d = g[:, 0, 0], g[:, 0, 1], g[:, 1, 0], g[:, 1, 1]
        det = a * d - b * c
        out = np.empty_like(g)
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = d / det, -b / det, -c / det, a / det
        return out
    return np.linalg.inv(g)


class SpectralAverager:
    """Exponentially averaged cross-spectra of ``p`` feeds and one mic at one resolution.

    Parameters
    ----------
    fs : int
        Sample rate (Hz).
    n_inputs : int
        Feeds (speakers) ``p``.
    n_fft : int
        Frame length (samples), Hann window, hop ``n_fft // 2``.
    f_lo_hz, f_hi_hz : float
        Bins kept (the rest is not accumulated).
    tau_s : float
        Time constant of the exponential average (s of usable programme).
    tau_fast_s : float, optional
        Time constant of a second, fast average kept from the same frames (change detection:
        after a change of the room the slow average mixes two rooms, see
        :meth:`restart_from_fast`).
    """

    def __init__(self, *, fs: int, n_inputs: int, n_fft: int, f_lo_hz: float, f_hi_hz: float, tau_s: float,
                 tau_fast_s: float | None = None) -> None:
        self.fs = int(fs)
        self.p = int(n_inputs)
        self.n_fft = int(n_fft)
        self.hop = self.n_fft // 2
        self.window = hann(self.n_fft)
        f = np.fft.rfftfreq(self.n_fft, 1.0 / self.fs)
        self.k0 = max(1, int(np.searchsorted(f, f_lo_hz)))
        self.k1 = int(np.searchsorted(f, f_hi_hz, side="right"))
        self.freqs_hz = f[self.k0:self.k1]
        nb = self.freqs_hz.size
        self.lam = math.exp(-self.hop / self.fs / float(tau_s))
        self.gxx = np.zeros((nb, self.p, self.p), np.complex128)
        self.gxy = np.zeros((nb, self.p), np.complex128)
        self.gyy = np.zeros(nb)
        self.w_sum = 0.0
        self.w2_sum = 0.0
        self.n_frames = 0
        self.fast = None
        if tau_fast_s is not None:
            self.fast = SpectralAverager(fs=fs, n_inputs=n_inputs, n_fft=n_fft, f_lo_hz=f_lo_hz, f_hi_hz=f_hi_hz,
                                         tau_s=tau_fast_s)
        self._xw = np.empty((self.p, self.n_fft))
        self._yw = np.empty(self.n_fft)

    def reset(self) -> None:
        """Forget everything (after a delay change)."""
        self.gxx[:] = 0
        self.gxy[:] = 0
        self.gyy[:] = 0
        self.w_sum = self.w2_sum = 0.0
        self.n_frames = 0
        if self.fast is not None:
            self.fast.reset()

    def restart_from_fast(self) -> None:
        """Replace the slow average by the fast one (the room changed: forget the old room now
        instead of mixing both for several time constants)."""
        f = self.fast
        self.gxx[:] = f.gxx
        self.gxy[:] = f.gxy
        self.gyy[:] = f.gyy
        self.w_sum, self.w2_sum, self.n_frames = f.w_sum, f.w2_sum, f.n_frames

    def add_frame(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fold one frame into the averages.

        Parameters
        ----------
        x : ndarray, shape (p, n_fft)
            Feeds, already delayed to line up with ``y``.
        y : ndarray, shape (n_fft,)
            Mic.
        """
        np.multiply(x, self.window, out=self._xw)
        np.multiply(y, self.window, out=self._yw)
        X = sp_fft.rfft(self._xw, axis=-1)[:, self.k0:self.k1].T      # (nb, p)
        Y = sp_fft.rfft(self._yw)[self.k0:self.k1]                     # (nb,)
        Xc = np.conj(X)
        fxx, fxy, fyy = Xc[:, :, None] * X[:, None, :], Xc * Y[:, None], Y.real ** 2 + Y.imag ** 2
        self._accumulate(fxx, fxy, fyy)
        if self.fast is not None:
            self.fast._accumulate(fxx, fxy, fyy)

    def _accumulate(self, gxx: np.ndarray, gxy: np.ndarray, gyy: np.ndarray) -> None:
        # exponential average kept unnormalised, S <- λ S + frame and W <- λ W + 1 (S / W is the
        # average); one pass less over the frame than λ S + (1 − λ) frame
        lam = self.lam
        self.gxx *= lam
        self.gxx += gxx
        self.gxy *= lam
        self.gxy += gxy
        self.gyy *= lam
        self.gyy += gyy
        self.w_sum = lam * self.w_sum + 1.0
        self.w2_sum = lam * lam * self.w2_sum + 1.0
        self.n_frames += 1

    @property
    def n_averages(self) -> float:
        """Effective number of independent averages ``n_d`` (see the module docstring)."""
        if self.w2_sum <= 0:
            return 0.0
        return OVERLAP_EFFICIENCY * self.w_sum ** 2 / self.w2_sum

    def estimate(self, bins: np.ndarray | None = None) -> dict:
        """The multi-input estimate now (of the kept bins, or of ``bins``: a boolean mask or
        indices into :attr:`freqs_hz`).

        Returns
        -------
        dict with
            ``freqs_hz`` (nb,), ``H`` (nb, p) complex (NaN where not inverted), ``eps`` (nb, p)
            normalised random error of ``|H_i|`` (inf where unknown), ``sigma`` (nb, p) the same
            error in absolute units (``ε |H|``, finite also where ``|H|`` is near 0), ``sep`` (nb, p)
            separability ``1 − γ²_i:others``, ``cond`` (nb,) condition number of ``Gxx``,
            ``coh`` (nb,) multiple coherence, ``gxx_diag`` (nb, p) feed power, ``n_d``.
        """
        sel = slice(None) if bins is None else bins
        freqs = self.freqs_hz[sel]
        nb, p = freqs.size, self.p
        nd = self.n_averages
        W = self.w_sum if self.w_sum > 0 else 1.0
        gxx = self.gxx[sel] / W
        gxy = self.gxy[sel] / W
        gyy = self.gyy[sel] / W
        diag = np.real(np.einsum("kii->ki", gxx))
        H = np.full((nb, p), np.nan + 0j)
        eps = np.full((nb, p), np.inf)
        sigma = np.full((nb, p), np.inf)
        sep = np.zeros((nb, p))
        coh = np.zeros(nb)
        cond = _condition(gxx)
        peak = float(diag.max()) if diag.size else 0.0
        ok = (cond < COND_MAX) & (diag.min(axis=1) > 1e-12 * max(peak, 1e-300)) & (nd > p + 1)
        if ok.any():
            inv = _inverse(gxx[ok])                                        # (m, p, p)
            h = np.einsum("kab,kb->ka", inv, gxy[ok])                      # H = Gxx⁻¹ Gxy
            gnn = np.maximum(gyy[ok] - np.real(np.einsum("ka,ka->k", np.conj(gxy[ok]), h)), 1e-30 * gyy[ok])
            inv_d = np.real(np.einsum("kii->ki", inv))
            H[ok] = h
            sigma[ok] = np.sqrt(gnn[:, None] * np.maximum(inv_d, 0.0) / (2.0 * nd))
            with np.errstate(divide="ignore", invalid="ignore"):
                eps[ok] = sigma[ok] / np.abs(h)
                sep[ok] = 1.0 / (diag[ok] * inv_d)
                coh[ok] = 1.0 - gnn / np.maximum(gyy[ok], 1e-300)
            eps[~np.isfinite(eps)] = np.inf
        return {"freqs_hz": freqs, "H": H, "eps": eps, "sigma": sigma, "sep": np.clip(sep, 0.0, 1.0), "cond": cond,
                "coh": np.clip(coh, 0.0, 1.0), "gxx_diag": diag, "gyy": gyy, "n_d": nd}
