"""Channel matching for every pair of channels of an impulse response (one seat).

For channels a and b:

- ``level_diff_db``: the level pink noise band-limited to ``level_band_hz`` (default
  500 Hz–2 kHz, the EBU Tech 3343 alignment band) would give, i.e. the power mean of the
  third-octave band levels in that range, of a minus that of b;
- ``response_diff_db``: third-octave band levels of a minus b (20 Hz … 20 kHz, capped below
  Nyquist);
- ``arrival_diff_ms``: direct-sound arrival of a minus b (``ir.arrival_samples`` when the
  measurement supplied them, else the interpolated peak of |h|);
- polarity: the sign of the peak of the cross-correlation of the two direct sounds (±2 ms
  around each arrival, aligned); ``correlation`` is that peak, normalised (1 = identical shape).

A pair with a band-limited channel (a subwoofer: no output in the level band,
:mod:`calib.analysis.passband`) is compared only where both have output: its level, arrival
and polarity are not judged (a broadband correlation of a low-passed direct sound with a
main's says nothing about wiring), its response difference is NaN outside the shared pass band.
"""

from __future__ import annotations

import itertools

import numpy as np

from calib.analysis.bands import band_edges_hz, band_levels_from_arrays_db, third_octave_centres_hz
from calib.analysis.passband import is_band_limited, passband_from_bands_hz
from calib.analysis.response import ir_to_response, peak_position_samples
from calib.analysis.types import ChannelPair
from calib.errors import SignalError
from calib.types import ImpulseResponse

__all__ = ["arrival_samples", "match_channels"]


def arrival_samples(ir: ImpulseResponse) -> np.ndarray:
    """Per-channel direct-sound arrival (samples): ``ir.arrival_samples`` when given, else the
    interpolated peak of |h|."""
    if len(ir.arrival_samples) == ir.n_channels and all(np.isfinite(ir.arrival_samples)):
        return np.array(ir.arrival_samples, dtype=np.float64)
    return np.array([peak_position_samples(row) for row in ir.samples])


def _direct(x: np.ndarray, centre: float, half: int) -> np.ndarray:
    c = int(round(centre))
    seg = np.zeros(2 * half + 1)
    a, b = max(c - half, 0), min(c + half + 1, x.size)
    seg[a - (c - half):b - (c - half)] = x[a:b]
    return seg


def match_channels(ir: ImpulseResponse, *, level_band_hz: tuple[float, float] = (500.0, 2000.0)) -> tuple[ChannelPair, ...]:
    """Level, response, arrival and polarity of every channel pair (see the module notes).

    Raises
    ------
    SignalError
        Fewer than two channels.
    """
    if ir.n_channels < 2:
        raise SignalError(f"channel matching needs at least 2 channels, the IR has {ir.n_channels}")
    fs = ir.fs
    fr = ir_to_response(ir, remove_delay=False)
    f, mag = fr.freqs_hz[1:], fr.magnitude_db[:, 1:]
    fc = third_octave_centres_hz(20.0, 20000.0)
    fc = fc[band_edges_hz(fc, fraction=3)[1] < fs / 2]
    bands = band_levels_from_arrays_db(f, mag, fc, fraction=3)
    lo, hi = level_band_hz
    sel = (fc >= lo / 1.01) & (fc <= hi * 1.01)
    if not np.any(sel):
        raise SignalError(f"level band {lo}..{hi} Hz holds no third-octave band at fs={fs} Hz")
    # pink-noise level: equal power per third-octave, so the power mean of the band levels
    level = 10.0 * np.log10(np.mean(10.0 ** (bands[:, sel] / 10.0), axis=1))
    arr = arrival_samples(ir)
    half = int(round(0.002 * fs))
    passband = [passband_from_bands_hz(fc, row) for row in bands]
    limited = [is_band_limited(pb) for pb in passband]
    out = []
    for i, j in itertools.combinations(range(ir.n_channels), 2):
        if limited[i] or limited[j]:
            lo = max(passband[i][0], passband[j][0])
            hi = min(passband[i][1], passband[j][1])
            shared = (fc >= lo / 1.01) & (fc <= hi * 1.01)     # empty when the bands do not meet
            nan = float("nan")
            out.append(ChannelPair(
                a=ir.channel_names[i], b=ir.channel_names[j], level_diff_db=nan,
                bands_hz=tuple(float(v) for v in fc),
                response_diff_db=tuple(float(v) for v in np.where(shared, bands[i] - bands[j], nan)),
                arrival_diff_ms=nan, same_polarity=True, correlation=nan, band_limited=True))
            continue
        da = _direct(ir.samples[i], arr[i], half)
        db = _direct(ir.samples[j], arr[j], half)
        xc = np.correlate(da, db, mode="full")
        k = int(np.argmax(np.abs(xc)))
        norm = float(np.sqrt(np.einsum('i,i->', da, da) * np.einsum('i,i->', db, db)))
        corr = float(xc[k] / norm) if norm > 0 else float("nan")
        out.append(ChannelPair(
            a=ir.channel_names[i], b=ir.channel_names[j],
            level_diff_db=float(level[i] - level[j]),
            bands_hz=tuple(float(v) for v in fc),
            response_diff_db=tuple(float(v) for v in bands[i] - bands[j]),
            arrival_diff_ms=float((arr[i] - arr[j]) / fs * 1000.0),
            same_polarity=bool(xc[k] > 0),
            correlation=corr,
        ))
    return tuple(out)
