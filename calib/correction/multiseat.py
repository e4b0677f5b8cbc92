"""Multi-seat combination: correct only what the seats agree on, and prove no seat regrets it.

Conservative combination (STANDARDS.md §7.4: use spatial averages, cut peaks, do not fill
nulls) of the deviations from target ``d_s(f)`` of seats ``s`` with weights ``w_s``:

* mean    ``m(f) = Σ w_s d_s(f)``  and spread ``σ(f) = √(Σ w_s (d_s − m)²)``;
* agreement ``a(f) = clip((σ_off − σ)/(σ_off − σ_on), 0, 1)``: full correction while the seats
  agree within ``σ_on`` dB, none beyond ``σ_off`` dB;
* desired correction ``c(f) = −a(f)·m(f)``;
* boost allowed ``b(f) = max(0, −max_s d_s(f))``: a boost is allowed only as far as *every* seat
  lies below the target, so a narrow dip that moves between seats is never filled.

After a design, :func:`band_regressions_db` compares every seat's third-octave band deviation
before and after; :func:`limit_regressions` shrinks a correction curve in the bands where a
seat would get worse by more than the limit (default 1 dB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calib.analysis.bands import third_octave_centres_hz
from calib.errors import ConfigError

__all__ = ["SeatCombination", "combine_seats", "normalise_weights", "band_levels_db",
           "band_regressions_db", "limit_regressions", "shrink_bands", "AGREEMENT_DB"]

#: Seat spread (dB) for full correction / no correction [U, practice].
AGREEMENT_DB: tuple[float, float] = (2.0, 5.0)


def normalise_weights(weights, n_seats: int) -> np.ndarray:
    """Seat weights summing to 1 (equal when ``None``).  Raises ConfigError when invalid."""
    if weights is None:
        return np.full(n_seats, 1.0 / n_seats)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != n_seats:
        raise ConfigError(f"{w.size} seat weights for {n_seats} seats; give one weight per seat")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ConfigError(f"seat weights {w.tolist()} must be >= 0 with a positive sum")
    return w / w.sum()


@dataclass(frozen=True)
class SeatCombination:
    """Result of :func:`combine_seats` on a frequency grid (all arrays shape (n_freqs,), dB)."""

    mean_db: np.ndarray
    spread_db: np.ndarray
    agreement: np.ndarray
    desired_db: np.ndarray
    boost_allowed_db: np.ndarray


def combine_seats(dev_db: np.ndarray, weights: np.ndarray, *,
                  agreement_db: tuple[float, float] = AGREEMENT_DB) -> SeatCombination:
    """Conservative combination of per-seat deviations from target (module docstring).

    Parameters
    ----------
    dev_db : ndarray, shape (n_seats, n_freqs)
        Smoothed response minus target (each seat at its automatic target level), dB.
    weights : ndarray, shape (n_seats,)
        Normalised seat weights.
    """
    d = np.atleast_2d(np.asarray(dev_db, dtype=np.float64))
    w = np.asarray(weights, dtype=np.float64)[:, None]
    m = (w * d).sum(axis=0)
    sd = np.sqrt((w * (d - m) ** 2).sum(axis=0))
    on, off = agreement_db
    a = np.clip((off - sd) / (off - on), 0.0, 1.0)
    boost = np.maximum(0.0, -d.max(axis=0))
    return SeatCombination(m, sd, a, -a * m, boost)


def band_levels_db(freqs_hz: np.ndarray, curve_db: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """Power-mean level (dB) of a log-grid curve in third-octave bands.

    Returns shape (..., n_bands); a band with no grid point is NaN.
    """
    c = np.asarray(curve_db, dtype=np.float64)
    k = 10.0 ** (0.3 / 6.0)  # G^(1/6): third-octave band edges
    out = np.full(c.shape[:-1] + (centres_hz.size,), np.nan)
    p = 10.0 ** (c / 10.0)
    for j, fc in enumerate(centres_hz):
        sel = (freqs_hz >= fc / k) & (freqs_hz < fc * k)
        if sel.any():
            out[..., j] = 10.0 * np.log10(p[..., sel].mean(axis=-1))
    return out


def band_regressions_db(freqs_hz: np.ndarray, dev_before_db: np.ndarray, dev_after_db: np.ndarray,
                        lo_hz: float, hi_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """How much worse each seat gets per third-octave band in the range.

    Both are taken at the seat's automatic level *before* correction (mean over the range),
    then ``|after| − |before|`` per band.

    Returns
    -------
    regress_db : ndarray, shape (n_seats, n_bands)
        Positive = the seat is further from target in that band after correction (dB).
    centres_hz : ndarray, shape (n_bands,)
    """
    sel = (freqs_hz >= lo_hz) & (freqs_hz <= hi_hz)
    f = freqs_hz[sel]
    # bands lying inside the range (IEC 61260-1 centres from calib.analysis.bands)
    inner = (lo_hz * 10 ** 0.05, hi_hz / 10 ** 0.05)
    centres = third_octave_centres_hz(*inner) if inner[0] <= inner[1] else np.zeros(0)
    if centres.size == 0:
        centres = third_octave_centres_hz(lo_hz, hi_hz)
    b = np.atleast_2d(dev_before_db)[:, sel]
    a = np.atleast_2d(dev_after_db)[:, sel]
    # One level per seat, the 'before' one, for both: a correction changes only the bands it
    # acts on (the common preamp is a volume setting, not a change of balance), so a seat is
    # 'worse' where the filters pushed it further from the target than it was.
    lvl = b.mean(axis=1, keepdims=True)
    b = b - lvl
    a = a - lvl
    reg = np.abs(band_levels_db(f, a, centres)) - np.abs(band_levels_db(f, b, centres))
    return reg, centres


def limit_regressions(freqs_hz: np.ndarray, dev_db: np.ndarray, corr_db: np.ndarray, lo_hz: float,
                      hi_hz: float, *, limit_db: float = 1.0, max_iter: int = 60) -> np.ndarray:
    """Shrink a correction curve where any seat's third-octave band would get worse than
    ``limit_db``; each pass scales the correction in the offending bands (half-band taper) by
    0.8.  Returns the limited correction (dB, same grid)."""
    c = np.asarray(corr_db, dtype=np.float64).copy()
    for _ in range(max_iter):
        reg, centres = band_regressions_db(freqs_hz, dev_db, dev_db + c, lo_hz, hi_hz)
        bad = np.nanmax(reg, axis=0) > limit_db * 0.9  # keep a small margin for the final check
        if not bad.any():
            break
        c = shrink_bands(freqs_hz, c, centres[bad])
    return c


def shrink_bands(freqs_hz: np.ndarray, corr_db: np.ndarray, centres_hz: np.ndarray, *,
                 factor: float = 0.8) -> np.ndarray:
    """Scale a correction curve by ``factor`` inside the given third-octave bands, tapering
    back to 1 over the next sixth of an octave on each side."""
    lf = np.log2(freqs_hz)
    scale = np.ones_like(corr_db)
    for fc in np.atleast_1d(centres_hz):
        dist = np.abs(lf - np.log2(fc))  # octaves from the band centre
        taper = np.clip((dist - 1 / 6) / (1 / 6), 0.0, 1.0)  # 0 inside the band, 1 beyond the taper
        scale *= factor + (1 - factor) * taper
    return corr_db * scale
