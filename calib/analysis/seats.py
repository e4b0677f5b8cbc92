"""Several seats (mic positions) of one room: the averaged response and the averaged decay.

- ``seat_average_response``: each seat's response (``ir_to_response``; each channel's own
  direct-sound peak as time origin, so a vector average is time-aligned) is read on one
  1/48-octave log grid and averaged with :func:`calib.analysis.response.spatial_average`
  (RMS = power mean, the usual basis for room correction; vector = complex mean; dB mean).
- ``seat_average_decay``: the arithmetic mean of every seat's and channel's valid band figures
  (ISO 3382-2 §5.4 averages over source-receiver combinations).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from calib.analysis.response import ir_to_response, spatial_average
from calib.analysis.room import mean_decay_table
from calib.analysis.smoothing import log_frequency_grid, resample_response, smooth_response
from calib.analysis.types import DecayTable, RoomAnalysis
from calib.errors import SignalError
from calib.types import FrequencyResponse, ImpulseResponse

__all__ = ["seat_average_response", "seat_average_decay"]


def seat_average_response(irs: Sequence[ImpulseResponse], *, method: str = "rms", smoothing: str = "1/48",
                          lo_hz: float = 10.0, hi_hz: float = 20000.0,
                          weights: Sequence[float] | None = None) -> FrequencyResponse:
    """Average response over seats, per channel, on a 1/48-octave grid.

    Parameters
    ----------
    irs : sequence of ImpulseResponse
        One per seat, same channels and sample rate.
    method : {"rms", "vector", "db"}
    smoothing : str
        Applied per seat before averaging (not for ``"vector"``, which needs phase).

    Raises
    ------
    SignalError
        No seats, differing rates or channels.
    """
    if not irs:
        raise SignalError("no seats to average; measure at least one seat")
    fs = irs[0].fs
    for i, ir in enumerate(irs[1:], start=2):
        if ir.fs != fs:
            raise SignalError(f"seat {i} is at {ir.fs} Hz, seat 1 at {fs} Hz; resample one of them first")
        if ir.channel_names != irs[0].channel_names:
            raise SignalError(f"seat {i} has channels {ir.channel_names}, seat 1 has {irs[0].channel_names}")
    grid = log_frequency_grid(lo_hz, min(hi_hz, 0.45 * fs), points_per_octave=48)
    n_fft = 1 << int(np.ceil(np.log2(max(ir.n_samples for ir in irs))))
    per_seat = []
    for ir in irs:
        fr = ir_to_response(ir, n_fft=n_fft)
        fr = FrequencyResponse(freqs_hz=fr.freqs_hz[1:], magnitude_db=fr.magnitude_db[:, 1:],
                               channel_names=fr.channel_names, phase_rad=fr.phase_rad[:, 1:])
        if method != "vector" and smoothing != "none":
            fr = smooth_response(fr, smoothing)
        per_seat.append(resample_response(fr, grid))
    return spatial_average(per_seat, method=method, weights=weights)


def seat_average_decay(analyses: Sequence[RoomAnalysis], *, third_octave: bool = False) -> DecayTable:
    """Mean decay figures over every seat and channel (valid figures only)."""
    if not analyses:
        raise SignalError("no seat analyses to average")
    if third_octave:
        tables = [a.decay_third_octave for a in analyses]   # already channel means per seat
    else:
        tables = [t for a in analyses for t in a.decay_per_channel.values()]
    return mean_decay_table(tables)
