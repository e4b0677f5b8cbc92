"""Proof that a capture through the JACK virtual room lost nothing.

The rig is a known system: every input is a sum of outputs, each either wired straight
(bit-exact) or through the room IR that jconvolver holds, all delayed by a whole number of
JACK periods (one, measured: RIG-NOTES).  So after a capture the backend can compute what
each input *must* contain and compare, sample by sample:

* a dropped, repeated or zero-filled block anywhere in the capture breaks the match (the
  signal after it is shifted or missing);
* a late convolution partition inside jconvolver (a load problem no PortAudio flag shows)
  breaks the match of the mic input;
* PortAudio's JACK host API reports every JACK xrun as ``input_overflow`` +
  ``output_underflow``.  In sync mode (``jackd -S``) a short late cycle loses nothing, a
  long stall does: measured on the rig, jconvolver stopped for 30 ms (or jackd for 100 ms)
  raised the flags and the capture still matched to 3e-7; jconvolver stopped for 200 ms
  raised the same flags and the mic input was off by 0.9 of its peak.  The flags cannot
  tell these apart; the comparison can, so a capture that matches is verifiably intact
  despite the flags, and one that does not is lost.

Tolerances: wires must match exactly (float32 copied, never computed); convolved inputs
within ``CONV_TOL_REL`` of the expected signal's peak -- jconvolver works in float32 with
FFT partitions (rounding ~1e-6 of the peak), while a missing block or partition of a room
response errs by the signal itself (>= 1e-3 of the peak even 40 dB down the decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["CONV_TOL_REL", "RenderCheck", "check_render"]

CONV_TOL_REL = 1e-4

# One source of an input: (output channel, IR row or None for a wire).
Source = tuple[int, "np.ndarray | None"]


@dataclass(frozen=True)
class RenderCheck:
    """Outcome of :func:`check_render`."""

    ok: bool
    delay_samples: int | None          # the delay found (a multiple of the period), None if none fits
    max_error_rel: float               # worst |recorded - expected| / peak(expected) over inputs
    checked_inputs: tuple[int, ...]    # 0-based inputs compared (those with a known source)
    reason: str = ""


def _convolve(x: np.ndarray, h: np.ndarray, n: int) -> np.ndarray:
    """First ``n`` samples of the linear convolution ``x * h`` (float64 FFT, no wrap-around)."""
    n_fft = 1 << int(np.ceil(np.log2(max(x.size + h.size - 1, 2))))
    return np.fft.irfft(np.fft.rfft(x, n_fft) * np.fft.rfft(h, n_fft), n_fft)[:n]


def _expected(sources: Sequence[Source], played: Mapping[int, np.ndarray], n: int) -> np.ndarray:
    y = np.zeros(n)
    for out, ir in sources:
        x = played.get(out)
        if x is None:
            continue
        x = np.asarray(x, dtype=np.float64)
        c = x[:n] if ir is None else _convolve(x, np.asarray(ir, dtype=np.float64), n)
        y[: c.size] += c
    return y


def check_render(recording: np.ndarray, *, played: Mapping[int, np.ndarray],
                 routing: Mapping[int, Sequence[Source]], input_channels: Sequence[int],
                 period: int, max_periods: int = 3) -> RenderCheck:
    """Compare a rig capture with what the rig must have produced.

    Parameters
    ----------
    recording : ndarray, shape (len(input_channels), n)
        The capture, float (float32 values).
    played : mapping output -> ndarray (n,)
        The float32 signal played on each 0-based output (absent outputs were silent).
    routing : mapping input -> sequence of (output, ir or None)
        What feeds each 0-based input: a wire (None) or a convolution with ``ir``.
    input_channels : sequence of int
        The 0-based input of each recording row.
    period : int
        JACK period (frames); the path delay is searched among ``period * k``,
        ``k = 0..max_periods``.

    Returns
    -------
    RenderCheck
        ``ok`` when, for one common delay, every wire matches exactly and every convolved
        input within ``CONV_TOL_REL`` of its peak; ``checked_inputs`` empty (and ``ok``
        False) when no requested input has a known source or nothing was played.
    """
    rec = np.atleast_2d(np.asarray(recording, dtype=np.float64))
    n = rec.shape[1]
    rows = [(r, ic) for r, ic in enumerate(input_channels) if routing.get(int(ic))]
    if not rows or not any(np.any(np.asarray(x) != 0) for x in played.values()):
        return RenderCheck(False, None, float("nan"), (), "nothing to compare")
    expected = {ic: _expected(routing[int(ic)], played, n) for _, ic in rows}
    wire_only = {ic: all(ir is None for _, ir in routing[int(ic)]) for _, ic in rows}
    best = (float("inf"), None)
    for k in range(max_periods + 1):
        d = k * period
        if d >= n:
            break
        worst = 0.0
        for r, ic in rows:
            e = np.zeros(n)
            e[d:] = expected[ic][: n - d]
            err = np.abs(rec[r] - e)
            peak = float(np.max(np.abs(e)))
            if wire_only[ic]:
                worst = max(worst, float("inf") if np.any(err != 0.0) else 0.0)
            elif peak > 0:
                worst = max(worst, float(np.max(err)) / peak)
            elif np.any(rec[r] != 0.0):
                worst = float("inf")
        if worst < best[0]:
            best = (worst, d)
        if worst <= CONV_TOL_REL:
            break
    worst, d = best
    ok = worst <= CONV_TOL_REL
    reason = "" if ok else (
        "no whole-period delay makes the capture match the rig's output"
        if not np.isfinite(worst) else
        f"the capture differs from the rig's output by {worst:.2e} of its peak")
    return RenderCheck(ok, d if ok else None, worst, tuple(int(ic) for _, ic in rows), reason)
