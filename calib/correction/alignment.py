"""Time and level alignment of several speakers at the main seat; polarity check.

* Arrival: the peak of the Hilbert envelope of the IR, band-limited to ``ARRIVAL_BAND_HZ``,
  refined to a fraction of a sample by a parabola through the three samples around the
  peak (of the envelope squared).  For a band-limited impulse delayed by τ the envelope
  peaks at τ exactly.
* Delays: every speaker is delayed to the latest arrival, ``delay_i = max(t) − t_i`` (s).
* Trims: speaker level = power mean of the response in 500–2000 Hz (the band of EBU Tech 3343
  level alignment, STANDARDS.md §3.5); trims bring every speaker down to the quietest
  (``trim_i = min(L) − L_i <= 0``), so alignment never adds gain.
* Polarity: the sign of the largest sample of the band-limited IR (STANDARDS.md §8.2,
  "sign of IR peak").  A speaker whose sign differs from the main speaker's is flagged as a
  relative polarity problem; an all-negative set is flagged as an inverted measurement chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import hilbert, sosfiltfilt, butter

from calib.errors import SignalError

__all__ = ["Alignment", "arrival_s", "align_speakers", "band_level_db", "ARRIVAL_BAND_HZ", "LEVEL_BAND_HZ"]

ARRIVAL_BAND_HZ: tuple[float, float] = (200.0, 8000.0)
LEVEL_BAND_HZ: tuple[float, float] = (500.0, 2000.0)


def _bandlimit(h: np.ndarray, fs: int, band: tuple[float, float]) -> np.ndarray:
    hi = min(band[1], 0.45 * fs)
    sos = butter(4, [band[0], hi], btype="bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, h)  # zero phase: does not move the arrival


def arrival_s(ir: np.ndarray, *, fs: int, band_hz: tuple[float, float] = ARRIVAL_BAND_HZ) -> tuple[float, int]:
    """Sub-sample arrival time (s) of the direct sound and its polarity (+1/−1).

    Raises
    ------
    SignalError
        An all-zero IR.
    """
    h = np.asarray(ir, dtype=np.float64).reshape(-1)
    if not np.any(h):
        raise SignalError("impulse response is all zeros; no arrival to align")
    hb = _bandlimit(h, fs, band_hz)
    env = np.abs(hilbert(hb)) ** 2
    k = int(np.argmax(env))
    frac = 0.0
    if 0 < k < env.size - 1:
        y0, y1, y2 = env[k - 1], env[k], env[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            frac = 0.5 * (y0 - y2) / den
    # polarity: sign of the largest band-limited sample near the envelope peak
    w = max(int(0.001 * fs), 2)
    seg = hb[max(0, k - w):k + w + 1]
    pol = 1 if seg[np.argmax(np.abs(seg))] >= 0 else -1
    return (k + frac) / fs, pol


def band_level_db(ir: np.ndarray, *, fs: int, band_hz: tuple[float, float] = LEVEL_BAND_HZ) -> float:
    """Power-mean magnitude level (dB) of an IR's response over a band."""
    h = np.asarray(ir, dtype=np.float64).reshape(-1)
    n = 1 << int(np.ceil(np.log2(max(h.size, 4096))))
    P = np.abs(np.fft.rfft(h, n)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    sel = (f >= band_hz[0]) & (f <= band_hz[1])
    # log-frequency weighting: each bin weighs 1/f so every octave counts the same
    return float(10 * np.log10(np.sum(P[sel] / f[sel]) / np.sum(1.0 / f[sel])))


@dataclass(frozen=True)
class Alignment:
    """Per speaker (same order as the input): arrival, added delay, trim and polarity."""

    names: tuple[str, ...]
    arrival_s: tuple[float, ...]
    delay_s: tuple[float, ...]
    level_db: tuple[float, ...]
    trim_db: tuple[float, ...]
    polarity: tuple[int, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {n: {"arrival_ms": 1e3 * a, "delay_ms": 1e3 * d, "level_db": lv, "trim_db": t, "polarity": p}
                for n, a, d, lv, t, p in zip(self.names, self.arrival_s, self.delay_s, self.level_db,
                                             self.trim_db, self.polarity)} | {"warnings": list(self.warnings)}


def align_speakers(irs: np.ndarray, names: tuple[str, ...], *, fs: int, align_levels: bool = True) -> Alignment:
    """Delays and trims so every speaker arrives together and at the same level.

    Parameters
    ----------
    irs : ndarray, shape (n_speakers, n_samples)
        IRs of each speaker at the main seat, sharing one time origin.
    names : tuple of str
    fs : int
    align_levels : bool
        Compute level trims (else all 0 dB).
    """
    h = np.atleast_2d(np.asarray(irs, dtype=np.float64))
    arr, pol, lev = [], [], []
    for row in h:
        t, p = arrival_s(row, fs=fs)
        arr.append(t)
        pol.append(p)
        lev.append(band_level_db(row, fs=fs))
    t_max = max(arr)
    delays = tuple(float(t_max - t) for t in arr)
    trims = tuple(float(min(lev) - lv) for lv in lev) if align_levels else tuple(0.0 for _ in lev)
    warnings = []
    if len(pol) > 1:
        for n, p in zip(names[1:], pol[1:]):
            if p != pol[0]:
                warnings.append(f"speaker {n} has the opposite polarity of {names[0]}; check its wiring")
    if all(p < 0 for p in pol):
        warnings.append("every speaker measures with inverted polarity; the measurement chain (mic, preamp "
                        "or interface) is probably inverted")
    for n, lv in zip(names, lev):
        if max(lev) - lv > 6.0:
            warnings.append(f"speaker {n} is {max(lev) - lv:.1f} dB quieter than the loudest; check its gain")
    return Alignment(tuple(names), tuple(arr), delays, tuple(lev), trims, tuple(pol), tuple(warnings))
