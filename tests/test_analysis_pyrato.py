"""Decay figures on real IRs against an independent implementation (pyrato, test-only).

Both implementations get the *same* band signal (our class-1 octave filter, time-reversed,
from the ISO 3382 onset), so the comparison isolates what each implements: Schroeder
integration, Lundeby's noise handling and the regression.  pyrato offers three noise
treatments (Lundeby, Chu, Chu + Lundeby); where those three agree with each other within 5 %,
the band's noise handling is not in doubt and ours must agree with pyrato's Lundeby within
10 % (issue 3).  Where pyrato's own methods disagree, the figure is dominated by how the noise
is treated, and the test does not compare.  Seen on this data: in rs.pcm's 63 Hz octave the
low-frequency background is not stationary (bumps 7 dB above the floor 1.5-2 s after the
onset); pyrato's Lundeby then places the crosspoint at 1.26 s and its T30 reads 1.8-6.6 s
against a T20 of 0.59 s, while our crosspoint stays at 0.37 s where the smoothed decay meets the
floor (T20 0.56 s, T30 0.52 s).  In the living room (0.9 s file, 33-45 dB of range) the three
pyrato treatments spread by up to 2x in most bands, and we decline T30 for lack of the 45 dB
the limit table asks.  For those bands the test checks instead that we either declined with a
range reason or gave a single-slope decay (T30 within 20 % of T20).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from calib.analysis.decay import band_signals, decay_table
from calib.analysis.response import onset_index
from calib.audio_io import read_audio

from conftest import shared_data

pf = pytest.importorskip("pyfar")
ra = pytest.importorskip("pyrato")

CASES = [
    (("drc-fir", "rs.pcm"), 44100, 6),          # DRC's listening room: long tail, 60-70 dB range
    (("openair", "living_room_1.wav"), None, 2),  # OpenAIR living room: 0.9 s, 35-45 dB range
]


def _pyrato_times(band: np.ndarray, fs: int, centre_hz: float) -> dict[str, tuple[float, float]]:
    sig = pf.Signal(band, fs)
    out = {}
    for name, fn, kw in (("lundeby", ra.edc.energy_decay_curve_lundeby, {"smoothing_parameter": centre_hz}),
                         ("chu", ra.edc.energy_decay_curve_chu, {}),
                         ("chu_lundeby", ra.edc.energy_decay_curve_chu_lundeby, {"smoothing_parameter": centre_hz})):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                edc = fn(sig, time_shift=False, **kw)
                t20 = float(np.ravel(ra.parameters.reverberation_time_linear_regression(edc, "T20"))[0])
                t30 = float(np.ravel(ra.parameters.reverberation_time_linear_regression(edc, "T30"))[0])
        except Exception:           # pyrato gives up on bands without a usable decay
            t20 = t30 = math.nan
        out[name] = (t20, t30)
    return out


@pytest.mark.parametrize("parts, raw_fs, min_compared", CASES)
def test_decay_agrees_with_pyrato_where_pyrato_agrees_with_itself(parts, raw_fs, min_compared):
    data, fs = read_audio(shared_data(*parts), raw_fs=raw_fs)
    x = data[0]
    tab = decay_table(x, fs=fs, fraction=1)
    onset = onset_index(x)
    compared = 0
    for b in tab.bands:
        rev, _ = band_signals(x, b.centre_hz, 1, fs=fs)
        theirs = _pyrato_times(rev[onset:], fs, b.centre_hz)
        for k, ours in ((0, b.t20_s), (1, b.t30_s)):
            vals = np.array([theirs[m][k] for m in theirs])
            agree = np.all(np.isfinite(vals)) and vals.max() / vals.min() <= 1.05
            if agree and math.isfinite(ours):
                # 10 % (issue 3): the same band signal, so only the EDC / noise / fit differ
                assert ours == pytest.approx(theirs["lundeby"][k], rel=0.10), (b.label, k)
                compared += 1
            elif not math.isfinite(ours):
                # we declined: the reason must name the missing range
                key = ("t20", "t30")[k]
                assert "decay range" in b.reasons.get(key, "") or "noise" in b.reasons.get(key, "")
            elif math.isfinite(b.t20_s) and math.isfinite(b.t30_s):
                # pyrato disagrees with itself: ours must at least be a single-slope decay
                assert abs(b.t30_s / b.t20_s - 1) < 0.2, (b.label, b.t20_s, b.t30_s)
    assert compared >= min_compared


def test_clarity_of_living_room_agrees_with_python_acoustics_cross_check():
    """C80/C50 of the OpenAIR living room against python-acoustics' own results, which
    ../shared/data/README.md lists as *cross-check only* (another implementation, asserted
    there to ±0.5).  Within the 1 dB JND of ISO 3382-1 Table A.1 in every octave for C80 and
    in 125 Hz–8 kHz for C50; the 63 Hz band has 22 dB peak-to-noise, where filter and onset
    conventions dominate (theirs 8 dB, ours 15.5 dB)."""
    data, fs = read_audio(shared_data("openair", "living_room_1.wav"))
    tab = decay_table(data[0], fs=fs, fraction=1)
    c80_theirs = [18.5, 23.1, 27.0, 31.7, 35.5, 36.8, 33.5, 36.1]
    c50_theirs = [8, 18, 23, 26, 30, 31, 27, 29]
    np.testing.assert_allclose(tab.column("c80_db"), c80_theirs, atol=1.0)
    # their C50 is printed rounded to whole dB: 1 dB JND + 0.5 dB rounding
    np.testing.assert_allclose(tab.column("c50_db")[1:], c50_theirs[1:], atol=1.5)
