"""Studio rooms as mixes hear them: smooth deviation curves for fingerprint tests and benchmarks.

A studio's room colours every mix made in it; to test a fingerprint estimator the truth must be
known, so the tests and benchmarks colour synthetic songs (:mod:`mixes.songs`,
:mod:`mixes.songs_alt`) with such a curve and compare the estimate with the curve's
third-octave power average.  One definition here serves the tests, ``bench_fingerprint_music``
and ``eval_alt_material``.

A curve is a function ``room(f_hz) -> deviation_db`` built from Gaussian bumps on a log-frequency
axis (``width_oct`` is the standard deviation in octaves).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["bump_db", "issue_room", "smooth_room", "varied_room", "colour", "band_truth_db"]

Room = Callable[[np.ndarray], np.ndarray]


def bump_db(f_hz, fc_hz: float, a_db: float, width_oct: float):
    """A Gaussian bump of ``a_db`` at ``fc_hz`` on a log2 axis, ``width_oct`` octaves (sigma)."""
    return a_db * np.exp(-0.5 * (np.log2(np.maximum(f_hz, 1.0) / fc_hz) / width_oct) ** 2)


def issue_room(f_hz):
    """Issue 12's studio: mixes −5 dB at 63 Hz, +2.5 dB at 160 Hz, +3 dB at 3 kHz (smooth)."""
    return bump_db(f_hz, 63, -5.0, 0.35) + bump_db(f_hz, 160, 2.5, 0.3) + bump_db(f_hz, 3000, 3.0, 0.5)


def smooth_room(seed: int) -> Room:
    """Five smooth bumps and dips (±5 dB, 0.3–1 octave wide) anywhere in 40 Hz–12 kHz."""
    r = np.random.default_rng(seed)
    comps = [(float(np.exp(r.uniform(np.log(40), np.log(12_000)))), float(r.uniform(-5, 5)),
              float(r.uniform(0.3, 1.0))) for _ in range(5)]
    return lambda f: sum(bump_db(f, *c) for c in comps)


def varied_room(seed: int) -> Room:
    """3–6 dips/peaks of −6..+4 dB, 0.08–1 octave (sigma), 30 Hz–14 kHz, and a ±3 dB tilt."""
    r = np.random.default_rng(seed)
    tilt = float(r.uniform(-3, 3))
    comps = [(float(np.exp(r.uniform(np.log(30), np.log(14_000)))), float(r.uniform(-6, 4)),
              float(np.exp(r.uniform(np.log(0.08), np.log(1.0))))) for _ in range(int(r.integers(3, 7)))]
    return lambda f: tilt * np.log2(np.maximum(f, 20.0) / 630.0) / 8.4 + sum(bump_db(f, *c) for c in comps)


def colour(x: np.ndarray, room: Room, fs: int) -> np.ndarray:
    """``x`` (…, n_samples) filtered by the zero-phase magnitude ``room`` (dB) at rate ``fs`` (Hz)."""
    spec = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(x.shape[-1], 1 / fs)
    return np.fft.irfft(spec * 10 ** (room(f) / 20), n=x.shape[-1], axis=-1)


def band_truth_db(room: Room, fc_hz: np.ndarray, sel_hz: tuple[float, float]) -> np.ndarray:
    """The curve's power average over each third-octave (centres ``fc_hz``), minus its mean over
    the bands inside ``sel_hz`` (a fingerprint is relative: its overall level is the mix's)."""
    fc_hz = np.asarray(fc_hz, dtype=float)
    t = np.array([10 * np.log10(np.mean(10 ** (room(np.geomspace(c * 10 ** -0.05, c * 10 ** 0.05, 64)) / 10)))
                  for c in fc_hz])
    sel = (fc_hz >= sel_hz[0]) & (fc_hz <= sel_hz[1])
    return t - t[sel].mean()
