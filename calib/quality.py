"""Capture fault checks: clipping, dropouts and held samples, lost data, too little SNR.

A faulty capture is refused (never averaged in) with a sentence that says what to change.
The checks work on one mic capture of one sweep (``calib.sweep.build_stimulus`` layout:
silent pre-roll, sweep, tail).

* Clipping: any sample at or above ``clip_level`` (0.999 of full scale; converters clip at
  the last code, float paths at 1.0).
* Dropout: a run of at least ``min_zero_run`` exact zeros inside the span where the sweep is
  heard (a buffer the driver never filled).  Held samples: a run of at least
  ``min_held_run`` identical non-zero values there (a frozen converter).  Re-sent buffer: a
  block of 32..2048 samples exactly equal to the block before it (no sweep repeats itself).  The span is the
  first to the last 10 ms frame whose RMS is within 30 dB of the loudest frame, trimmed to
  its first and last non-zero samples, so digital silence before the sweep arrives (virtual
  devices) is not mistaken for a dropout.
* SNR: broadband, ``10 lg((P_sweep - P_noise) / P_noise)`` with ``P_noise`` the mean square of
  the silent pre-roll and ``P_sweep`` that of the heard span.  (The IR's own peak-to-noise
  ratio, which is far higher thanks to the sweep's processing gain, is ``ImpulseResponse.snr_db``.)
* Is it an impulse response at all: :func:`check_impulse_response` refuses a file whose peak
  stands less than ``MIN_IR_CREST_DB`` above its RMS (noise, a sweep recording given where an
  IR is expected, a deconvolution of a recording that does not hold the sweep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from calib.errors import MeasurementError, SignalError

__all__ = [
    "CaptureReport",
    "inspect_capture",
    "refuse_if_faulty",
    "clipped_samples",
    "find_runs",
    "heard_span",
    "capture_snr_db",
    "check_impulse_response",
    "MIN_IR_CREST_DB",
]

CLIP_LEVEL = 0.999
MIN_ZERO_RUN = 32      # samples (0.7 ms at 48 kHz): no real capture of a sweep holds 32 exact zeros
MIN_HELD_RUN = 64      # samples: a 16-bit capture of a quiet 10 Hz sweep can hold a value ~30 samples
# Peak over RMS of a whole impulse response (dB).  Gaussian noise of 10^7 samples peaks about
# 16 dB over its RMS, a sine sweep 3 dB; real IRs measured: 25 dB (a hand clap,
# spatialaudio-exercises rir_clap), 34 dB (OpenAIR living room), 41 dB (a 9.8 s sports-hall IR),
# 47 dB (DRC rs.pcm), 44 dB (the simulated default room).
MIN_IR_CREST_DB = 20.0
REPEAT_BLOCKS = (32, 64, 128, 256, 512, 1024, 2048)   # driver periods checked for re-sent buffers


def _row(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise SignalError(f"a capture check needs one non-empty channel, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise SignalError("the capture contains NaN or Inf samples; the interface delivered damaged data")
    return a


def clipped_samples(x: np.ndarray, *, clip_level: float = CLIP_LEVEL) -> np.ndarray:
    """Indices of samples with ``|x| >= clip_level`` (full scale 1.0)."""
    return np.flatnonzero(np.abs(_row(x)) >= clip_level)


def find_runs(mask: np.ndarray, min_run: int) -> list[tuple[int, int]]:
    """``(start, length)`` of every run of True in ``mask`` at least ``min_run`` long."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    d = np.diff(np.concatenate([[0], m.view(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends) if e - s >= min_run]


def heard_span(x: np.ndarray, *, fs: int, start: int = 0, frame_s: float = 0.01,
               range_db: float = 30.0) -> tuple[int, int]:
    """``[first, last)`` sample span (from ``start``) whose 10 ms frames are within ``range_db``
    of the loudest frame: where the sweep is heard."""
    a = _row(x)[start:]
    n = max(int(frame_s * fs), 1)
    n_fr = a.size // n
    if n_fr == 0:
        return start, start
    ms = np.mean(a[: n_fr * n].reshape(n_fr, n) ** 2, axis=1)
    if not ms.max() > 0:
        return start, start
    loud = np.flatnonzero(ms >= ms.max() * 10 ** (-range_db / 10))
    lo, hi = int(loud[0]) * n, int(loud[-1] + 1) * n
    # the edge frames may hold digital silence before the sweep arrives: trim exact zeros
    nz = np.flatnonzero(a[lo:hi])
    return start + lo + int(nz[0]), start + lo + int(nz[-1]) + 1


def capture_snr_db(x: np.ndarray, *, fs: int, sweep_start: int) -> float:
    """Broadband capture SNR (dB): heard sweep power over pre-roll noise power.

    ``inf`` for a digitally silent pre-roll, NaN when there is no pre-roll (< 10 ms).
    """
    a = _row(x)
    if sweep_start < int(0.01 * fs):
        return float("nan")
    p_noise = float(np.mean(a[:sweep_start] ** 2))
    lo, hi = heard_span(a, fs=fs, start=sweep_start)
    if hi <= lo:
        return float("-inf")
    p_sig = float(np.mean(a[lo:hi] ** 2))
    if p_noise <= 0:
        return float("inf")
    return 10 * math.log10(max(p_sig - p_noise, 1e-30) / p_noise)


@dataclass(frozen=True)
class CaptureReport:
    """What :func:`inspect_capture` found in one capture."""

    peak_dbfs: float
    snr_db: float
    n_clipped: int
    first_clip_s: float | None
    dropouts: tuple[tuple[float, int], ...]        # (time s, length samples) of zero runs
    held: tuple[tuple[float, int], ...]            # (time s, length samples) of held runs
    repeated: tuple[tuple[float, int], ...] = ()   # (time s, block samples) of re-sent buffers
    status_flags: tuple[str, ...] = ()
    lost_samples: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def lost_data(self) -> bool:
        """True for faults a retry may cure (lost samples, dropouts), not clipping or noise."""
        return bool(self.lost_samples or self.dropouts or self.held or self.repeated or self.status_flags)


def inspect_capture(x: np.ndarray, *, fs: int, sweep_start: int, what: str = "the capture",
                    min_snr_db: float | None = 30.0, status_flags: tuple[str, ...] = (),
                    lost_samples: bool = False, clip_level: float = CLIP_LEVEL,
                    min_zero_run: int = MIN_ZERO_RUN, min_held_run: int = MIN_HELD_RUN) -> CaptureReport:
    """Check one mic capture; every problem becomes one sentence in ``problems``.

    Parameters
    ----------
    x : ndarray, shape (n,)
        The capture (full scale 1.0).
    fs : int
        Sample rate (Hz).
    sweep_start : int
        Index where the sweep left the output (end of the silent pre-roll).
    what : str
        How to name the capture in messages (``"the capture of L"``).
    min_snr_db : float or None
        Lowest acceptable capture SNR (dB); None skips the check.
    status_flags, lost_samples
        From :class:`hardware.backend.CaptureResult`.
    """
    a = _row(x)
    peak = float(np.max(np.abs(a)))
    peak_dbfs = 20 * math.log10(peak) if peak > 0 else float("-inf")
    clips = np.flatnonzero(np.abs(a) >= clip_level)
    lo, hi = heard_span(a, fs=fs, start=sweep_start)
    seg = a[lo:hi]
    zeros = find_runs(seg == 0.0, min_zero_run)
    same = np.concatenate([[False], np.diff(seg) == 0.0]) & (seg != 0.0)
    # a held run of m equal values is m-1 True flags after the first
    held = [(s - 1, n + 1) for s, n in find_runs(same, min_held_run - 1)]
    # a re-sent buffer: a block identical to the one before it (sizes of typical driver periods)
    repeated: list[tuple[int, int]] = []
    for b in REPEAT_BLOCKS:
        if seg.size > 2 * b:
            same_b = (seg[b:] == seg[:-b]) & (seg[b:] != 0.0)
            runs = find_runs(same_b, b)
            if runs:
                repeated.append((runs[0][0] + b, b))
                break
    snr = capture_snr_db(a, fs=fs, sweep_start=sweep_start)
    problems: list[str] = []
    if lost_samples or status_flags:
        flags = ", ".join(status_flags) or "lost samples"
        problems.append(
            f"{what} was refused because the audio driver reported {flags}: samples were lost; "
            "close other audio programs, raise the buffer size (latency) and measure again"
        )
    if clips.size:
        problems.append(
            f"{what} clips: {clips.size} samples at full scale, the first at {clips[0] / fs:.3f} s; "
            "lower the mic input gain by at least 6 dB (or the sweep level) and measure again"
        )
    if zeros:
        s, n = zeros[0]
        problems.append(
            f"{what} has a dropout: {n} samples of digital silence at {(lo + s) / fs:.3f} s in the "
            "middle of the sweep (the interface lost data); raise the buffer size, close other "
            "audio programs and measure again"
        )
    if held:
        s, n = held[0]
        problems.append(
            f"{what} holds the same sample value {n} times in a row at {(lo + s) / fs:.3f} s "
            "(a repeated or frozen buffer); check the interface connection and buffer size and "
            "measure again"
        )
    if repeated:
        s, b = repeated[0]
        problems.append(
            f"{what} repeats a block of {b} samples at {(lo + s) / fs:.3f} s (the driver re-sent a "
            "buffer); raise the buffer size, close other audio programs and measure again"
        )
    if peak == 0.0:
        problems.append(
            f"{what} is digital silence: nothing reached the input; check the mic input channel, "
            "the interface routing and the cable"
        )
    elif min_snr_db is not None and not math.isnan(snr) and snr < min_snr_db:
        need = min_snr_db - snr
        problems.append(
            f"in {what} the sweep is only {snr:.1f} dB above the background noise, {min_snr_db:g} dB "
            f"is needed: raise the mic input gain (or the sweep level, within max_level_dbfs) by "
            f"{math.ceil(need)} dB, or make the room quieter"
        )
    return CaptureReport(
        peak_dbfs=peak_dbfs,
        snr_db=snr,
        n_clipped=int(clips.size),
        first_clip_s=float(clips[0] / fs) if clips.size else None,
        dropouts=tuple(((lo + s) / fs, n) for s, n in zeros),
        held=tuple(((lo + s) / fs, n) for s, n in held),
        repeated=tuple(((lo + s) / fs, b) for s, b in repeated),
        status_flags=tuple(status_flags),
        lost_samples=bool(lost_samples),
        problems=tuple(problems),
    )


def refuse_if_faulty(report: CaptureReport) -> None:
    """Raise :class:`MeasurementError` with the first problem's sentence (all of them joined
    when there are several)."""
    if report.problems:
        raise MeasurementError("; also ".join(report.problems))


#: a row whose energy lies (99 %) below this fraction of Nyquist is band-limited (a subwoofer)
BAND_LIMITED_FRACTION = 0.1
#: band-limited IRs: the energy after the peak must fall this far (dB) by three quarters of the
#: way to the end (noise and sweeps: about 6 dB), with a crest of at least BAND_LIMITED_MIN_CREST_DB
BAND_LIMITED_MIN_DECAY_DB = 20.0
BAND_LIMITED_MIN_CREST_DB = 10.0


def _band_limited_ir_ok(row: np.ndarray, crest_db: float) -> bool:
    """Is ``row`` a band-limited impulse response (a subwoofer's) despite its low crest?

    Only rows whose energy is 99 % below ``BAND_LIMITED_FRACTION`` of Nyquist qualify (a
    broadband row keeps the plain crest rule).  Two ways through, either suffices:

    1. The crest counted over the row's independent samples: an ideal impulse band-limited to
       a fraction ``b`` of Nyquist has a crest of exactly ``10 lg (b n)`` (peak ``b``, energy
       ``b`` by Parseval), the band-limited form of the ``10 lg n`` of a unit impulse; the bar
       is 3 dB under it, capped at ``MIN_IR_CREST_DB`` as for broadband rows.  (Low-passed
       noise of ``b n`` independent samples peaks near ``sqrt(2 ln (b n))`` sigma: 9-13 dB.)
    2. A reverberant sub's modes ring longer than its direct sound stands out, so its crest
       can be 10-15 dB over a whole second: then the energy must decay like an IR's, the
       Schroeder backward integral from the peak falling at least ``BAND_LIMITED_MIN_DECAY_DB``
       by three quarters of the way to the end (stationary noise or a sweep: 6 dB), with a
       crest of at least ``BAND_LIMITED_MIN_CREST_DB`` (a sine sweep: 3 dB).
    """
    spec = np.abs(np.fft.rfft(row)) ** 2
    cum = np.cumsum(spec)
    if cum[-1] <= 0.0:
        return False
    frac = min(1.0, (int(np.searchsorted(cum, 0.99 * cum[-1])) + 1) / spec.size)
    if frac >= BAND_LIMITED_FRACTION:
        return False
    if crest_db >= min(MIN_IR_CREST_DB, 10 * math.log10(max(frac * row.size, 1.0)) - 3.0):
        return True
    k = int(np.argmax(np.abs(row)))
    j = k + int(0.75 * (row.size - k))
    sch = np.cumsum((row[::-1].astype(np.float64)) ** 2)[::-1]     # energy from each sample on
    decay_db = 10 * math.log10(sch[k] / max(float(sch[j]), 1e-300))
    return crest_db >= BAND_LIMITED_MIN_CREST_DB and decay_db >= BAND_LIMITED_MIN_DECAY_DB


def check_impulse_response(x: np.ndarray, *, what: str, hint: str = "") -> None:
    """Refuse data that is not an impulse response: no clear direct-sound peak.

    Parameters
    ----------
    x : ndarray, shape (n_ch, n) or (n,)
        The IR(s); all-zero channels are left to the callers' own silence checks.
    what : str
        Names the data in the message (e.g. the file name).
    hint : str
        What to do, appended to the sentence; by default a pointer to ``roomtruth ir``.

    Raises
    ------
    SignalError
        A channel's peak is less than ``MIN_IR_CREST_DB`` above its RMS (or ``10 lg n - 3``
        dB for a row of n < 200 samples), unless the channel is band-limited and passes
        :func:`_band_limited_ir_ok` (a subwoofer's IR).
    """
    a = np.atleast_2d(np.asarray(x, dtype=np.float64))
    for i, row in enumerate(a):
        rms = float(np.sqrt(np.mean(row ** 2))) if row.size else 0.0
        if rms == 0.0 or not math.isfinite(rms):
            continue
        crest = 20 * math.log10(float(np.max(np.abs(row))) / rms)
        # a unit impulse of n samples has a crest of 10 lg n: a very short IR (a wire, a few
        # taps) cannot reach 20 dB, so the bar is 3 dB under that for n < 200 (noise of n
        # samples peaks near sqrt(2 ln n) sigma, far lower)
        need = min(MIN_IR_CREST_DB, 10 * math.log10(row.size) - 3.0)
        if crest < need and _band_limited_ir_ok(row, crest):
            continue
        if crest < need:
            ch = f" channel {i + 1}" if a.shape[0] > 1 else ""
            raise SignalError(
                f"{what}{ch} does not look like an impulse response: its peak is only {crest:.1f} dB above its "
                f"RMS where an impulse response's direct sound stands at least {need:.0f} dB out; "
                + (hint or "if it is a sweep recording, turn it into an IR with 'roomtruth ir' first"))
