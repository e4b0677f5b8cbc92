"""Synthetic multi-seat rooms with analytic answers (helpers + a check of the helpers).

A room is a direct sound (a band-limited impulse, delayed), one reflection and modal
resonators ``a_s·exp(−δt)·sin(2πf0·t)`` (δ = 6.91/T60, STANDARDS.md §4.3) whose amplitude
``a_s`` differs per seat.  The modal peak of a resonator of amplitude a above a unit direct
sound is known analytically: |H(f0)| ≈ |1 + a/(2δ)·(…)|, we check it numerically below.
"""

from __future__ import annotations

import numpy as np

from calib.types import ImpulseResponse

FS = 48_000
MODES = ((42.0, 0.45), (67.0, 0.40), (95.0, 0.35), (131.0, 0.30), (176.0, 0.25))  # (f0 Hz, T60 s)


def modal_ir(amps, *, fs: int = FS, n: int = 1 << 15, delay_samples: float = 100.0, refl=(0.004, 0.4),
             dip=None) -> np.ndarray:
    """One seat's IR: direct sound + reflection + modes with amplitudes ``amps`` (1/s units)."""
    t = np.arange(n) / fs
    h = np.zeros(n)
    # fractional-delay direct sound: windowed sinc
    k = np.arange(n)
    h += np.sinc(k - delay_samples) * np.where(np.abs(k - delay_samples) < 64,
                                                0.5 * (1 + np.cos(np.pi * (k - delay_samples) / 64)), 0.0)
    d2 = delay_samples + refl[0] * fs
    h += refl[1] * np.sinc(k - d2) * np.where(np.abs(k - d2) < 64, 0.5 * (1 + np.cos(np.pi * (k - d2) / 64)), 0.0)
    t0 = delay_samples / fs
    tt = np.maximum(t - t0, 0.0)
    for (f0, t60), a in zip(MODES, amps):
        delta = 6.908 / t60
        h += np.where(t >= t0, a / fs * np.exp(-delta * tt) * np.sin(2 * np.pi * f0 * tt), 0.0)
    return h


def seat_amps(n_seats: int, seed: int = 1) -> np.ndarray:
    """Per-seat modal amplitudes: every mode present everywhere, its strength varying +-30 %."""
    rng = np.random.default_rng(seed)
    base = np.array([35.0, 30.0, 28.0, 25.0, 22.0])
    return base[None, :] * (1 + 0.3 * rng.uniform(-1, 1, size=(n_seats, base.size)))


def room_seats(n_seats: int = 3, *, names=("L",), fs: int = FS, seed: int = 1) -> list[ImpulseResponse]:
    amps = seat_amps(n_seats, seed)
    out = []
    for s in range(n_seats):
        rows = [modal_ir(amps[s], fs=fs, delay_samples=100.0 + 7.3 * c) for c in range(len(names))]
        out.append(ImpulseResponse(np.array(rows), fs, tuple(names), meta={"seat": f"seat{s + 1}"}))
    return out


def test_modal_peak_matches_resonator_theory():
    # One mode alone: a·e^{-δt}·sin(ω0 t) has |H(f0)| = a·ω0/|δ² + 2jδω0 − … | ≈ a/(2δ) for δ << ω0
    # (the Laplace transform ω0/((s+δ)²+ω0²) at s = jω0).  Check the FFT peak against it.
    fs, n = FS, 1 << 17
    t = np.arange(n) / fs
    f0, t60, a = 67.0, 0.4, 50.0
    delta = 6.908 / t60
    h = a * np.exp(-delta * t) * np.sin(2 * np.pi * f0 * t) / fs  # / fs: sampled continuous-time IR
    H = np.abs(np.fft.rfft(h))
    f = np.fft.rfftfreq(n, 1 / fs)
    w0 = 2 * np.pi * f0
    s = 1j * w0
    expected = abs(a * w0 / ((s + delta) ** 2 + w0 ** 2))
    got = H[np.argmin(np.abs(f - f0))]
    # 0.05 dB: the FFT bin spacing (0.37 Hz) vs the 5.5 Hz mode bandwidth and the sampling
    assert abs(20 * np.log10(got / expected)) < 0.05
