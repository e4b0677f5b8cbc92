"""Verification of a bass-managed profile's sum: does every main still add with the subs at the
crossover, as the design made it?

For each main, the new measurement's IRs (mean of the repeats, one time origin) are played
through the profile exactly as designed (:func:`calib.exports.firwav.speaker_fir`: routing
path, trim, polarity, delay, correction) for a signal on that main's programme channel: the
main's path and every sub's, summed in the room.  The figure is the worst sixth-octave band
over ``0.75 fc .. 1.375 fc`` of the coherent sum against the power sum of the parts
(:func:`calib.correction.bass.band_sum_deficit_db`; 0 dB adds like power, negative is
cancellation).  Warn below -1 dB, fail below -3 dB: a sub that moved, changed polarity or
delay, or a main whose phase changed, cancels there.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from calib.correction.bass import band_sum_deficit_db, sixth_octave_centres_hz
from calib.profile import CalibrationProfile
from calib.types import ImpulseResponse
from calib.verification_types import CheckResult

__all__ = ["bass_sum_checks", "WARN_DB", "FAIL_DB"]

WARN_DB = -1.0
FAIL_DB = -3.0


def bass_sum_checks(profile: CalibrationProfile, repeats: Sequence[ImpulseResponse]) -> list[CheckResult]:
    """One ``bass_sum`` check per main of a bass-managed profile (none without routing or subs,
    or when the measurement lacks a speaker or runs at another rate than the design)."""
    r = profile.routing
    if not r or not r.get("subs") or not repeats:
        return []
    from calib.exports.firwav import speaker_fir

    fs = profile.design_fs
    names = repeats[0].channel_names
    subs = [s for s in r["subs"] if s in names]
    mains = [m for m in r["crossover_hz"] if m in names]
    if repeats[0].fs != fs or not subs:
        return []
    h = np.mean([rep.samples for rep in repeats], axis=0)
    n_taps = 1 << 16
    n_fft = 1 << int(math.ceil(math.log2(h.shape[1] + n_taps)))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    room = {n: np.fft.rfft(h[names.index(n)], n_fft) for n in mains + subs}
    out = []
    for m in mains:
        fc = float(r["crossover_hz"][m])
        band = (f >= 0.5 * fc) & (f <= 2 * fc)
        hm = room[m] * np.fft.rfft(speaker_fir(profile, m, n_taps=n_taps, source=m), n_fft)
        hs = sum(room[s] * np.fft.rfft(speaker_fir(profile, s, n_taps=n_taps, source=m), n_fft) for s in subs)
        centres = sixth_octave_centres_hz(0.75 * fc, 1.375 * fc)
        dev = band_sum_deficit_db(f[band], hm[band], hs[band], centres)
        k = int(np.argmin(dev))
        v = float(dev[k])
        verdict = "fail" if v < FAIL_DB else ("warn" if v < WARN_DB else "pass")
        who = f"{m}+{'+'.join(subs)}"
        msg = (f"{who}: the bass-managed sum is {v:+.1f} dB against the power sum at {centres[k]:.0f} Hz"
               + ("" if verdict == "pass" else
                  " (cancellation at the crossover: a sub moved, or its polarity, delay or level changed; "
                  "re-run roomtruth correct)"))
        out.append(CheckResult("bass_sum", who, v, FAIL_DB, "dB", verdict, float("nan"), float(centres[k]), msg,
                               warn_limit=WARN_DB))
    return out
