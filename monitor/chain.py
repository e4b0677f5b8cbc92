"""One correction chain of the monitor engine: a profile's per-speaker filters at one rate.

Per speaker (``calib.profile`` describes the contract)::

    x[in] -> gain(preamp_db + trim_db) * polarity -> delay (whole samples + Thiran all-pass)
          -> FIR for the running rate (partitioned convolution) else the PEQ biquad cascade
          -> loudness-match gain -> alignment padding (whole samples, common to the chain)

Execution: all speakers of a chain run together, not one by one: the gain and delay of
every channel in one compiled pass (:class:`monitor.dsp.DelayLine`), and the FIRs of all FIR
speakers in one convolver call (:func:`make_convolver`: the compiled, evenly scheduled
:class:`monitor.fastconv.ScheduledConvolver`, or the numpy reference
:class:`monitor.convolver.PartitionedConvolver` where numba or FFTW is missing).  The
per-speaker description above is what each channel gets, whichever path runs it.

A chain is built off the audio thread (:func:`build_chain`) and run on it
(:meth:`Chain.process`); :class:`monitor.engine.Engine` holds the slots, crossfades between
them, sets each chain's loudness-match gain and its alignment padding.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.signal as _sig

from calib.errors import ProfileError
from calib.profile import CalibrationProfile, peq_sos
from monitor import kernels as _kernels
from monitor.convolver import PartitionedConvolver
from monitor.fastconv import ScheduledConvolver

WORKER_FACTOR = 4          # real time: partitions >= 4 blocks are computed off the callback
WORKER_RT_PRIORITY = 50    # SCHED_FIFO priority tried for the FIR worker (below JACK's ~60-70)
from monitor.dsp import (FRACTIONAL_LATENCY_SAMPLES, AlignmentDelay, DelayLine, SosCascade, db_to_gain,
                         k_weighting_sos, split_delay, thiran_allpass)

__all__ = ["Chain", "build_chain", "loudness_gain_db", "fir_bulk_latency_samples", "MAX_WARM_S",
           "make_convolver", "compiled_engine"]

#: Longest warm-up of a new chain (s): its filter length, at least 0.2 s, at most this.
MAX_WARM_S = 2.0


def compiled_engine() -> bool:
    """True when chains use the compiled, scheduled convolver (:mod:`monitor.fastconv`)."""
    return _kernels.available()


def make_convolver(h: np.ndarray, *, block: int, max_block: int, fir_worker: bool = False):
    """The FIR convolver of a channel group: compiled and evenly scheduled
    (:class:`monitor.fastconv.ScheduledConvolver`) when numba and FFTW are there, else the
    numpy reference (:class:`monitor.convolver.PartitionedConvolver`; with ``fir_worker``
    its partitions of 4 blocks and more run on a background thread, "Worker levels")."""
    if _kernels.available():
        return ScheduledConvolver(h, block=block, max_block=max_block)
    return PartitionedConvolver(h, block=block, max_block=max_block,
                                async_min=WORKER_FACTOR * block if fir_worker else None,
                                worker_priority=WORKER_RT_PRIORITY if fir_worker else None)


def fir_bulk_latency_samples(firs) -> int:
    """Bulk latency of a chain (whole samples): the delay its FIRs put in front of the sound.

    ``min over FIR channels c of argmax_n |h_c[n]|`` -- the main-peak tap of each FIR (a
    minimum-phase design peaks at 0, a mixed- or linear-phase one at its modelling delay ``D``,
    see ``calib.correction.fir``), the smallest over the channels so it is the delay common to
    all of them (what differs between speakers is part of the correction).  Ties go to the
    earliest tap.  0 when no channel has a FIR.  Gains, polarity and the per-speaker delays
    (``delay_s``) do not count: they are the correction, not latency.

    Parameters
    ----------
    firs : sequence of ndarray (n_taps,) or None
        Per channel; ``None`` for a channel without FIR (biquads or pass-through).
    """
    peaks = [int(np.argmax(np.abs(np.asarray(h)))) for h in firs if h is not None and len(h)]
    return min(peaks, default=0)


def loudness_gain_db(responses_pow: np.ndarray, freqs_hz: np.ndarray, *, fs: int) -> float:
    """Gain (dB) of a set of channel power responses for K-weighted pink noise, 20 Hz..20 kHz.

    ``G = 10 lg( mean_c sum_f |K(f)|^2 |H_c(f)|^2 / f  /  sum_f |K(f)|^2 / f )`` on a linear
    frequency grid (1/f per bin = pink noise density).  K is BS.1770-5's pre-filter.

    Parameters
    ----------
    responses_pow : ndarray (n_channels, n_freqs)
        ``|H_c(f)|^2``.
    freqs_hz : ndarray (n_freqs,)
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    band = (f >= 20.0) & (f <= min(20_000.0, 0.499 * fs))
    _, kz = _sig.sosfreqz(k_weighting_sos(fs=fs), worN=f[band], fs=fs)
    w = np.abs(kz) ** 2 / f[band]
    p = np.asarray(responses_pow)[:, band]
    num = float(np.mean(p @ w))
    return 10.0 * math.log10(max(num, 1e-30) / float(np.sum(w)))


@dataclass
class _ConvGroup:
    a: int                  # channels a..b-1
    b: int
    conv: PartitionedConvolver


class Chain:
    """One complete set of per-speaker filters (a profile, a bare FIR set, or bypass).

    Built by :func:`build_chain`; :meth:`process` runs on the audio thread.

    Attributes
    ----------
    name : str
    content_hash : str
        The profile's :meth:`~calib.profile.CalibrationProfile.content_hash`, ``"bypass"``
        for the bypass chain.
    loudness_db : float
        Gain for K-weighted pink noise (see :func:`loudness_gain_db`).
    n_taps : int
        Longest FIR (0 without FIR).
    uses_fir : tuple of bool
        Per channel: FIR (True) or biquads (False).
    bulk_latency_samples : int
        Delay common to the chain's FIRs (:func:`fir_bulk_latency_samples`); 0 without FIR.
    align : monitor.dsp.AlignmentDelay
        Padding at the chain's output (whole samples, all channels), set by the
        :class:`Engine` so that every slot has the same total bulk latency; capacity
        ``align_capacity`` samples (0: no padding possible, no cost).
    """

    def __init__(self, *, name: str, content_hash: str, fs: int, n_channels: int, block: int,
                 max_block: int, gains: np.ndarray, delays_s: np.ndarray, sos: list, firs: list,
                 threads: int = 1, fir_block: int | None = None, align_capacity: int = 0,
                 fir_worker: bool = False) -> None:
        C = int(n_channels)
        self.name = name
        self.content_hash = content_hash
        self.fs = int(fs)
        self.n_channels = C
        self.block = int(block)
        self.max_block = int(max_block)
        # head partition of the FIR: the block (real time) or a whole offline chunk (render)
        self.fir_block = int(block) if fir_block is None else int(fir_block)
        self.gains = np.asarray(gains, dtype=np.float32).reshape(C, 1)
        self._gains1 = np.ascontiguousarray(self.gains[:, 0])
        whole = []
        sos_all = []
        # channels without FIR (biquads, pass-through) wait for the FIRs' common bulk delay,
        # so a profile mixing FIR and PEQ speakers stays in time between its speakers
        bulk = fir_bulk_latency_samples(firs)
        for c in range(C):
            i, d = split_delay(float(delays_s[c]) * fs)
            whole.append(i + (bulk if firs[c] is None else 0))
            sections = []
            if d is not None:
                b, a = thiran_allpass(d)
                sections.append(_sig.tf2sos(b, a))
            if sos[c] is not None and firs[c] is None:
                sections.append(np.atleast_2d(sos[c]))
            sos_all.append(np.vstack(sections) if sections else None)
        self.delay = DelayLine(whole, max_block=max_block)
        self.iir = SosCascade(sos_all)
        self.uses_fir = tuple(f is not None for f in firs)
        self.n_taps = max((len(f) for f in firs if f is not None), default=0)
        self.bulk_latency_samples = bulk
        self.align = AlignmentDelay(C, capacity_samples=int(align_capacity), max_block=max_block)
        self.groups: list[_ConvGroup] = []
        fir_ch = [c for c in range(C) if firs[c] is not None]
        # groups are contiguous channel ranges (views, no copies); one per channel when the
        # chain may use worker threads (offline rendering), else maximal runs
        runs: list[list[int]] = []
        for c in fir_ch:
            if runs and runs[-1][-1] == c - 1 and int(threads) <= 1:
                runs[-1].append(c)
            else:
                runs.append([c])
        for run in runs:
            a, b = run[0], run[-1] + 1
            h = np.zeros((b - a, self.n_taps))
            for k, c in enumerate(run):
                h[k, : len(firs[c])] = firs[c]
            self.groups.append(_ConvGroup(a, b, make_convolver(
                h, block=self.fir_block, max_block=max_block,
                fir_worker=fir_worker and self.fir_block == self.block and max_block == self.block)))
        self._plain = [c for c in range(C) if firs[c] is None]
        self._pool = ThreadPoolExecutor(min(len(self.groups), max(int(threads), 1))) \
            if len(self.groups) > 1 and int(threads) > 1 else None
        self._work = np.zeros((C, max_block), dtype=np.float32)
        self.loudness_db = self._loudness(firs, sos_all)
        self.match_db = 0.0           # loudness-match gain target (set by the control side)
        self._match_now = 1.0         # linear gain currently applied

    @property
    def align_samples(self) -> int:
        """Alignment padding now applied (samples; the target while a change is faded)."""
        return self.align.delay

    @property
    def levels(self):
        return self.groups[0].conv.levels if self.groups else ()

    def _loudness(self, firs: list, sos_all: list) -> float:
        nfft = 1 << max(14, int(math.ceil(math.log2(max(self.n_taps, 1) * 2))))
        freqs = np.fft.rfftfreq(nfft, 1.0 / self.fs)
        powr = np.empty((self.n_channels, freqs.size))
        for c in range(self.n_channels):
            g2 = float(self.gains[c, 0]) ** 2
            if firs[c] is not None:
                powr[c] = g2 * np.abs(np.fft.rfft(firs[c], nfft)) ** 2
            elif sos_all[c] is not None:
                _, hz = _sig.sosfreqz(sos_all[c], worN=freqs, fs=self.fs)
                powr[c] = g2 * np.abs(hz) ** 2
            else:
                powr[c] = g2
        return loudness_gain_db(powr, freqs, fs=self.fs)

    @property
    def warm_samples(self) -> int:
        """Samples this chain must run before its output is steady (its filter length)."""
        return int(min(max(self.n_taps, 0.2 * self.fs), MAX_WARM_S * self.fs)) + FRACTIONAL_LATENCY_SAMPLES

    def reset(self) -> None:
        self.delay.reset()
        self.iir.reset()
        for g in self.groups:
            g.conv.reset()
        self.align.reset()

    def _run_group(self, g: _ConvGroup, n: int, out: np.ndarray) -> None:
        g.conv.process(self._work[g.a:g.b, :n], out[g.a:g.b])

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Run the chain on ``x`` (``(n_channels, n)`` float32, finite) into ``out``."""
        n = x.shape[1]
        # gain and delay in one pass (x * g, then the ring); without FIR straight into out
        w = self._work[:, :n] if self.groups else out
        self.delay.process(x, w, gains=self._gains1)
        if self.iir.active:
            self.iir.process(w)
        if self.groups:
            if self._pool is not None:
                list(self._pool.map(self._run_group, self.groups, [n] * len(self.groups), [out] * len(self.groups)))
            else:
                for g in self.groups:
                    self._run_group(g, n, out)
            for c in self._plain:
                out[c] = w[c]
        target = db_to_gain(self.match_db)
        if target != self._match_now or target != 1.0:
            if target != self._match_now:
                ramp = np.linspace(self._match_now, target, n + 1, dtype=np.float32)[1:]
                out *= ramp
                self._match_now = target
            else:
                out *= np.float32(target)
        self.align.process(out)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        for g in self.groups:
            g.conv.close()

    @property
    def late_waits(self) -> int:
        """Blocks in which the audio thread had to wait for a FIR worker (0 without workers)."""
        return sum(g.conv.late_waits for g in self.groups)


def resample_fir(h: np.ndarray, fs_from: int, fs_to: int) -> np.ndarray:
    """An FIR designed at ``fs_from`` for use at ``fs_to`` (Hz), with the same frequency response
    below the lower Nyquist frequency.

    Polyphase resampling of the taps (``scipy.signal.resample_poly`` with a long Kaiser-windowed
    anti-alias filter: pass-band ripple below 0.001 dB) at the exact ratio, scaled by ``fs_from / fs_to``: an impulse response's
    taps are its response integrated over one sample period, so ``sum(h)`` (the DC gain) stays
    the same.  Close to the lower Nyquist frequency the anti-alias filter rolls the response
    off; the main peak stays at the same time in seconds.
    """
    from fractions import Fraction

    if int(fs_from) == int(fs_to):
        return np.asarray(h, dtype=np.float64)
    r = Fraction(int(fs_to), int(fs_from))
    up, down = r.numerator, r.denominator
    # anti-alias filter: 80 taps per phase of the faster rate, Kaiser beta 9 (stop band
    # about -90 dB, pass-band ripple < 0.001 dB), cut-off at the lower Nyquist frequency
    m = max(up, down)
    aa = _sig.firwin(80 * m + 1, 1.0 / m, window=("kaiser", 9.0))   # resample_poly scales by up
    y = _sig.resample_poly(np.asarray(h, dtype=np.float64), up, down, window=aa)
    return y * (fs_from / fs_to)


def build_chain(profile: CalibrationProfile | None, *, fs: int, n_channels: int, block: int,
                max_block: int | None = None, threads: int = 1, fir_block: int | None = None,
                align_capacity: int = 0, fir_worker: bool = False) -> Chain:
    """Build the chain of ``profile`` at the running rate ``fs`` (``None``: bypass).

    Speaker ``s`` reads input channel ``s.output_channel`` and writes the same output
    channel; channels without a speaker pass through (delayed like the others).  A speaker
    uses its FIR for ``fs`` when the profile has one, else its PEQ at ``fs``, else (an FIR-only
    speaker at another rate) its FIR from the nearest design rate resampled to ``fs``
    (:func:`resample_fir`).  ``fir_block``
    (default ``block``) is the FIR's head partition: offline rendering, where latency does not
    matter, uses a whole chunk so the FIR runs on large FFTs (see :class:`Engine`).
    ``align_capacity`` (samples) is the longest alignment padding the chain can take.
    ``fir_worker`` moves the FIR's large partitions to a background thread (real time).

    Raises
    ------
    ProfileError
        A speaker's output channel is outside ``0..n_channels-1``, or a biquad cannot be
        realised at ``fs``.
    """
    C = int(n_channels)
    max_block = int(block) if max_block is None else int(max_block)
    gains = np.ones(C)
    delays = np.zeros(C)
    sos: list = [None] * C
    firs: list = [None] * C
    if profile is None:
        return Chain(name="bypass", content_hash="bypass", fs=fs, n_channels=C, block=block,
                     max_block=max_block, gains=gains, delays_s=delays, sos=sos, firs=firs, threads=1,
                     align_capacity=align_capacity)
    seen = {}
    for s in profile.speakers:
        c = s.output_channel
        if not (0 <= c < C):
            raise ProfileError(
                f"speaker {s.name} of profile {profile.name!r} plays on output channel {c + 1}, "
                f"but the monitor path has {C} channel(s); use a profile for this layout")
        if c in seen:
            raise ProfileError(f"speakers {seen[c]} and {s.name} both play on output channel {c + 1}")
        seen[c] = s.name
        gains[c] = db_to_gain(profile.preamp_db + s.trim_db) * s.polarity
        delays[c] = s.delay_s
        if fs in s.fir:
            firs[c] = np.asarray(s.fir[fs], dtype=np.float64)
        elif s.peq:
            sos[c] = peq_sos(s.peq, fs=fs)
        elif s.fir:
            # an FIR-only speaker at a rate it was not designed for: never play it uncorrected;
            # run its FIR resampled from the nearest design rate (see resample_fir)
            src = min(s.fir, key=lambda r: (abs(math.log(r / fs)), -r))
            firs[c] = resample_fir(np.asarray(s.fir[src], dtype=np.float64), src, fs)
    return Chain(name=profile.name, content_hash=profile.content_hash(), fs=fs, n_channels=C, block=block,
                 max_block=max_block, gains=gains, delays_s=delays, sos=sos, firs=firs, threads=threads,
                 fir_block=fir_block, align_capacity=align_capacity, fir_worker=fir_worker)
