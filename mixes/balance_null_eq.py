"""The null test's EQ check (:mod:`mixes.balance_null`): EQ-like bands that a moved part
explains are no EQ.

Split from :mod:`mixes.balance_null` by topic (session 7: songs3 seed 9, 12 s, vocal +6 / -5 dB
was refused as "an EQ at 794 Hz, 1000 Hz" and fell back to the frame comparison; it now reads
within 0.01 dB; bells and a high shelf together with a louder vocal are still refused).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = []

FADER_MIN_BANDS = 2           # an EQ-like band at a fader's gain (see _not_a_fader) is no EQ
FADER_TOL_DB = 0.5
FADER_TOL_SHARE = 0.3


def _not_a_fader(eq: list, eq_gain_db: list, centres: np.ndarray, c: float, cands: list) -> list:
    """The EQ-like bands that no moved part explains.

    A band that a voice owns all the time (its breath and sibilants in the top octaves of a dark
    orchestral mix, songs4 720; a voice-dominated sparse song's mid bands, songs3 9) changes by a
    fixed factor per bin when the vocal moves, as under an EQ.  But then the band's gain equals a
    fader's: a cluster of cell ratios (another candidate of the common gain, >= 0.5 dB from
    ``c``) that nulls cells in >= ``FADER_MIN_BANDS`` bands where no EQ is seen (where the part
    plays with the rest: its change confined to its own cells).  A band whose gain lies within
    ``FADER_TOL_DB`` of such a cluster, or ``FADER_TOL_SHARE`` of the way from it to ``c`` (a band
    the part owns not quite alone), is explained; only when every EQ-like band is explained are
    they all dropped (a shelf's flat top alone could pass for a fader, its slope cannot)."""
    if not eq:
        return eq
    c_db = 20.0 * math.log10(abs(c))
    eq_idx = {int(np.argmin(np.abs(centres - f))) for f in eq}
    faders = []
    for c_try, deep_try, _score, _top in cands:
        if not c_try > 0:
            continue
        f_db = 20.0 * math.log10(c_try)
        if abs(f_db - c_db) < 0.5:
            continue
        per_band = np.count_nonzero(deep_try, axis=0)
        others = [b for b in np.nonzero(per_band >= 3)[0] if int(b) not in eq_idx]
        if len(others) >= FADER_MIN_BANDS:
            faders.append(f_db)
    for g_db in eq_gain_db:
        if not any(abs(g_db - f_db) <= max(FADER_TOL_DB, FADER_TOL_SHARE * abs(f_db - c_db))
                   and (g_db - c_db) * (f_db - c_db) > 0 for f_db in faders):
            return eq           # one band no fader explains (a shelf's slope, a bell): an EQ
    return []
