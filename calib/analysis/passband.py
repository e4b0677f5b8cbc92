"""A channel's pass band: where a speaker (a subwoofer, a band-limited main) has output.

Judging a channel outside its pass band judges noise: a subwoofer low-passed at 80-200 Hz has
no direct sound to correlate at 2 kHz, no level in the 500 Hz-2 kHz alignment band and no
fundamental against which a harmonic ratio means anything (a "20 % THD at 2 kHz" is the noise
floor over a fundamental 50 dB down).  The analyses that compare or judge channels use this
band first.

Definition (ours, stated here because no standard gives one): the contiguous range of
third-octave bands around the strongest, where the octave-smoothed band level (power mean of
the band and its two neighbours) stays within ``below_max_db`` (default 20 dB) of its maximum.
20 dB keeps a main's natural roll-offs (a sealed box 12 dB down an octave below its corner, a
room's modal dips of 10-15 dB) inside the band and puts a sub's region an octave or more above
its low-pass corner (12-24 dB/octave) outside it.  A channel is *band-limited* when its pass
band does not hold the whole 500 Hz-2 kHz level band (EBU Tech 3343 alignment band) in which
channels are matched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PASSBAND_BELOW_MAX_DB", "LEVEL_BAND_HZ", "passband_from_bands_hz", "is_band_limited",
           "channel_passbands_hz", "band_limited_channels"]

PASSBAND_BELOW_MAX_DB = 20.0
LEVEL_BAND_HZ = (500.0, 2000.0)


def passband_from_bands_hz(centres_hz: np.ndarray, levels_db: np.ndarray, *,
                           below_max_db: float = PASSBAND_BELOW_MAX_DB) -> tuple[float, float]:
    """(lowest, highest) third-octave centre (Hz) of the pass band (see the module notes).

    Parameters
    ----------
    centres_hz : ndarray, shape (n,)
        Third-octave centres, ascending (Hz).
    levels_db : ndarray, shape (n,)
        Band levels (dB); non-finite values count as no output.
    below_max_db : float
        How far (dB) under the octave-smoothed maximum the pass band reaches.

    Returns
    -------
    (float, float)
        Band edges as centres (Hz); ``(nan, nan)`` when no band holds a finite level.
    """
    f = np.asarray(centres_hz, dtype=np.float64)
    lv = np.asarray(levels_db, dtype=np.float64)
    p = np.where(np.isfinite(lv), 10.0 ** (np.where(np.isfinite(lv), lv, 0.0) / 10.0), 0.0)
    if f.size == 0 or not np.any(p > 0):
        return float("nan"), float("nan")
    pad = np.r_[p[0], p, p[-1]]
    sm = (pad[:-2] + pad[1:-1] + pad[2:]) / 3.0                 # one octave: three thirds
    sm_db = 10.0 * np.log10(np.maximum(sm, 1e-30))
    k = int(np.argmax(sm_db))
    ok = sm_db >= sm_db[k] - below_max_db
    lo = k
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    hi = k
    while hi < f.size - 1 and ok[hi + 1]:
        hi += 1
    return float(f[lo]), float(f[hi])


def is_band_limited(band_hz: tuple[float, float], level_band_hz: tuple[float, float] = LEVEL_BAND_HZ) -> bool:
    """True when the pass band ``band_hz`` does not hold the whole ``level_band_hz`` (Hz).

    A small tolerance (a twentieth of an octave) absorbs the third-octave centres' rounding
    (the 2 kHz band's exact centre is 1995 Hz).
    """
    lo, hi = band_hz
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return True
    tol = 2.0 ** (1.0 / 20.0)
    return not (lo <= level_band_hz[0] * tol and hi >= level_band_hz[1] / tol)


def channel_passbands_hz(ir) -> list[tuple[float, float]]:
    """Pass band (Hz) of every channel of an :class:`~calib.types.ImpulseResponse`, from its
    third-octave band levels (20 Hz up to the last band below Nyquist)."""
    from calib.analysis.bands import band_edges_hz, band_levels_from_arrays_db, third_octave_centres_hz
    from calib.analysis.response import ir_to_response

    fr = ir_to_response(ir, remove_delay=False)
    fc = third_octave_centres_hz(20.0, 20000.0)
    fc = fc[band_edges_hz(fc, fraction=3)[1] < ir.fs / 2]
    bands = band_levels_from_arrays_db(fr.freqs_hz[1:], fr.magnitude_db[:, 1:], fc, fraction=3)
    return [passband_from_bands_hz(fc, row) for row in np.atleast_2d(bands)]


def band_limited_channels(ir) -> tuple[bool, ...]:
    """For every channel of ``ir``: True when it is band-limited (:func:`is_band_limited`)."""
    return tuple(is_band_limited(pb) for pb in channel_passbands_hz(ir))
