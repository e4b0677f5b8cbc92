"""Two per-segment cues of the vocal detector (split from :mod:`mixes.vocal_frames`, vocal7).

* :func:`_shape_step_db` -- the steadiness of a detection segment's partial-level pattern
  between consecutive hops (item 3 of :mod:`mixes.vocal_frames`' docstring: one glottal source's
  partials change smoothly, a chorused ensemble's or unrelated notes' beat and jump).
* :func:`_vibrato_hz` -- the dominant rate of the pitch modulation of the voice-like segments
  (reported as ``Balance.vibrato_hz``).

Both take the frame pass of :func:`mixes.vocal_frames.frame_pass` (duck-typed: ``harm_spectra``,
``df_hz``) and need only numpy.
"""

from __future__ import annotations

import math

import numpy as np

SHAPE_HARMONICS = 10                # partials 1..10 below SHAPE_MAX_HZ make the pattern
SHAPE_MAX_HZ = 5000.0
SHAPE_FLOOR_DB = 40.0               # partials weaker than the pattern's strongest by more: floored


def _shape_step_db(fr, seg: np.ndarray, f0_hz: np.ndarray) -> float:
    """Rms change (dB) between consecutive frames of a segment's partial-level pattern.

    The centre power of partials ``h = 1..SHAPE_HARMONICS`` (those below ``SHAPE_MAX_HZ`` in
    every frame of the segment; the strongest bin within one bin of ``h f0``), in dB, floored
    ``SHAPE_FLOOR_DB`` below the frame's strongest partial, minus the frame's mean over the
    partials (the gain): the rms of its frame-to-frame difference.  One glottal source's
    partials change smoothly (the vowel's formants move over tens of ms); the "partials" of a
    chorused or detuned ensemble, or of unrelated notes that happen to sit near ``h f0``, beat
    and jump by ~10 dB between 21-ms hops.  NaN with fewer than four partials (not judged).
    """
    f0 = f0_hz[seg].astype(np.float64)
    n_h = min(SHAPE_HARMONICS, int(SHAPE_MAX_HZ // float(np.max(f0))))
    if n_h < 4 or seg.size < 2:
        return math.nan
    hc = fr.harm_spectra[0]
    k0 = np.rint(np.arange(1, n_h + 1)[None, :] * f0[:, None] / fr.df_hz).astype(np.int64)
    k0 = np.clip(k0, 1, hc.shape[1] - 2)
    rows = seg[:, None]
    p = np.maximum(np.maximum(hc[rows, k0 - 1], hc[rows, k0]), hc[rows, k0 + 1]).astype(np.float64)
    a = 10.0 * np.log10(np.maximum(p, 1e-20))
    a = np.maximum(a, a.max(axis=1, keepdims=True) - SHAPE_FLOOR_DB)
    a -= a.mean(axis=1, keepdims=True)
    return float(np.sqrt(np.mean(np.diff(a, axis=0) ** 2)))


def _vibrato_hz(devs: list[np.ndarray], hop_s: float) -> float:
    """Dominant modulation rate (Hz) of the pitch deviations of segments >= 0.6 s."""
    n_fft = 64
    acc = np.zeros(n_fft // 2 + 1)
    used = 0
    for d in devs:
        m = int(0.6 / hop_s)
        if d.size < m:
            continue
        for j in range(0, d.size - m + 1, max(m // 2, 1)):
            seg = d[j:j + m] - d[j:j + m].mean()
            acc += np.abs(np.fft.rfft(seg * np.hanning(m), n_fft)) ** 2
            used += 1
    if used == 0:
        return math.nan
    freqs = np.fft.rfftfreq(n_fft, hop_s)
    band = (freqs >= 2.0) & (freqs <= 12.0)
    return float(freqs[band][np.argmax(acc[band])])
