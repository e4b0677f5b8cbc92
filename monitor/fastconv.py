"""Scheduled non-uniformly partitioned convolution: one compiled call per period, even cost.

Same algorithm and partition rules as :mod:`monitor.convolver` (the pure-numpy reference:
Gardner 1995; Garcia 2002; Wefers 2015 ch. 5), different execution:

* **All channels in one call.**  :meth:`ScheduledConvolver.process` is one call of the numba
  kernel :func:`monitor.conv_kernels.conv_run` (also ``monitor.kernels.conv_run``) for all
  channels and all levels; the FFTs are FFTW plans executed from inside it, straight into and
  out of the spectra (see :mod:`monitor.kernels` for why that route, :mod:`monitor.conv_kernels`
  for the memory layout and the task kinds).
* **Large partitions spread over the periods before their deadline** (the role of
  zita-convolver's level threads, done here by a schedule instead of threads).  Every level
  of ``P = r * block`` samples except the head starts at tap ``o >= 2P - block`` (the rule of
  the worker levels in :mod:`monitor.convolver`), so the block ``j`` of input, complete at
  the end of period ``(j+1) r - 1``, first sounds in period ``(j+2) r - 1``: there are ``r``
  periods to compute it.  Its work (per channel: forward FFT of ``2P``, the ``M`` spectral
  multiply-accumulates cut into bin ranges of about one FFT's cost, inverse FFT) is cut into
  tasks in that order and dealt to the ``r`` phases by modelled cost, so each period does about
  ``1/r`` of every level instead of one period doing a whole level's FFTs.  With 16
  channels and a 4096-sample level at a 128 period that is half a channel's worth of work per
  period instead of 16 channels' every 32nd period.
* **Two blocks per pass over the filter spectra** for levels of >= 2048-sample partitions
  (``G = 2``, :mod:`monitor.conv_kernels`): half the memory traffic of their
  multiply-accumulates; channels alternate the parity of their pass block, and the schedule's
  hyper-period covers two blocks of such levels.  Measured (``benchmarks/results/
  engine3_2026-12-07.json``, convolver alone, interleaved rounds at load 7-10): 5 % less CPU
  per period at 16 channels than one pass per block, about 0-12 % at 24 channels; no gain
  with 1-2 channels, whose spectra stay in the cache.
* **Nothing allocated per call, nothing waited for**: no worker threads, no locks, no pipes;
  the kernel releases the GIL.

The output is exact convolution up to float32 FFT round-off (tests: nulls <= -120 dB for odd
and even blocks and 1, 2, 7, 16 channels, against float64 ``scipy.signal.oaconvolve`` and
against :class:`monitor.convolver.PartitionedConvolver`).  Streaming block by block equals
processing many blocks per call bit for bit (the kernel loops over periods either way).
"""

from __future__ import annotations

import math

import numpy as np

from calib.errors import ConfigError, SignalError
from monitor import conv_kernels as _ck
from monitor import kernels as _k
from monitor.convolver import Level, _min_offset, plan_partitions

__all__ = ["ScheduledConvolver", "plan_scheduled"]

# Cost model of the compiled path (ns per input sample and channel), measured inside the kernel
# on the project machine, each level alone (engine5, benchmarks/bench_engine5_schemes.py): an
# FFTW real FFT of F points (forward or inverse, with its frame copy) costs ~0.10 F log2 F; a
# complex64 multiply-accumulate 0.30-0.36 ns per bin (the vector loop is bound by its loads),
# 0.4 with the other levels' traffic.  It chooses the scheme and the schedule.  The old
# constants (FFT 0.11, MAC 1.0) over-weighted the MACs: they chose four levels
# (128x7/512x6/2048x6/8192x7 at 128) where three (128x7/512x14/4096x15) measure 13-16 % less
# per period at 16 channels and ~14 % at 2 (paired rounds, benchmarks/bench_engine5_ab.py).
# _COST_PASS: per bin and block of the paired pass (half the memory traffic of a single pass).
_COST_FFT = 0.10
_COST_MAC = 0.4
_COST_PASS = 0.2
# bins per multiply-accumulate task of the spread levels: long vector loops (the old rule, one
# FFT's modelled cost per task, made ranges of 88-176 bins for the 512-sample level: one task
# per ~100 bins and short loops) while the accumulators of a task stay in L1/L2
_CHUNK_BINS = 1024
# levels with partitions of at least this many samples pass over their filter spectra once
# per two blocks (see monitor.conv_kernels)
_PAIR_MIN = 2048


def fft_size(n: int) -> int:
    """Smallest ``2^a 3^b 5^c 7^d >= n`` (sizes FFTW transforms fast; an odd block's ``2P``
    has a large prime factor, e.g. ``2 x 127``, which FFTW handles 20-50x slower)."""
    best = 1 << max(0, (int(n) - 1).bit_length())
    f7 = 1
    while f7 < best:
        f5 = f7
        while f5 < best:
            f3 = f5
            while f3 < best:
                v = f3
                while v < n:
                    v *= 2
                best = min(best, v)
                f3 *= 3
            f5 *= 5
        f7 *= 7
    return best


def plan_scheduled(n_taps: int, *, block: int) -> tuple[Level, ...]:
    """Partition scheme of the scheduled convolver: every level after the head is spread
    over its partition's periods, so it starts at ``o >= 2P - block`` (see module docstring);
    the cheapest by the cost model (``_COST_FFT``, ``_COST_MAC``)."""
    mac = _COST_MAC

    def cost(P: int, M: int) -> float:   # per input sample of the level
        F = fft_size(2 * P)
        return (2 * _COST_FFT * F * math.log2(F) + mac * M * (F // 2 + 1)) / P

    return plan_partitions(n_taps, block=block, async_min=2 * block, level_cost=cost)


def _schedule(windows: list[tuple[list[float], int, int, int]]) -> list[list[int]]:
    """Deal every block window's tasks to its phases so that the modelled cost of the busiest
    period is as small as possible (greedy water-filling).

    ``windows``: per window, the costs of its tasks in their required order, the level's
    number of phases ``r`` per block, its group size ``G`` (1, or 2 for levels that pass over
    their filter spectra once for two blocks: blocks ``j`` with ``j % G == g`` run window
    ``g``) and ``g``.  ``G r`` are powers of two, so each divides the hyper-period
    ``R = max G r``; period ``u`` of it runs phase ``u mod r`` of window ``(u div r) mod G``,
    so a window's phase ``s`` loads periods ``g r + s + k G r``.  Windows of the largest
    levels are placed first; each task goes to the least loaded phase that keeps the order
    (>= the previous task's) and does not run ahead of the window's proportional schedule (so
    later tasks always keep room); ties go to the earliest phase.  Returns the phase of every
    task.
    """
    R = max(G * r for _, r, G, _ in windows)
    load = np.zeros(R)
    out: list[list[int]] = [[] for _ in windows]
    for wi in sorted(range(len(windows)), key=lambda i: (-windows[i][1], i)):
        costs, r, G, g = windows[wi]
        view = load.reshape(R // (G * r), G * r)[:, g * r:(g + 1) * r]   # [:, s]: periods of phase s
        total = sum(costs) or 1.0
        prev, acc = 0, 0.0
        phases = []
        for c in costs:
            hi = max(prev, min(r - 1, int((acc + c) * r / total)))
            col = view[:, prev:hi + 1].max(axis=0)
            s_ = prev + int(np.argmin(col))
            view[:, s_] += c
            phases.append(s_)
            prev = s_
            acc += c
        out[wi] = phases
    return out


class ScheduledConvolver:
    """Multichannel zero-latency partitioned convolver, compiled and evenly scheduled.

    Drop-in for :class:`monitor.convolver.PartitionedConvolver` (same ``process``/``reset``/
    ``close``/``levels`` interface) when :func:`monitor.kernels.available`.

    Parameters
    ----------
    h : ndarray, shape (n_channels, n_taps) or (n_taps,)
        One FIR per channel.
    block : int
        Period = head partition (samples), >= 1, odd sizes allowed.
    max_block : int, optional
        Most samples per :meth:`process` call (a multiple of ``block``); default ``block``.
    levels : tuple of Level, optional
        Partition scheme; default :func:`plan_scheduled`.

    Raises
    ------
    SignalError
        Empty or non-finite filter.
    ConfigError
        Bad block sizes or an invalid scheme.
    """

    def __init__(self, h: np.ndarray, *, block: int, max_block: int | None = None,
                 levels: tuple[Level, ...] | None = None, _warm: bool = False,
                 _pair_min: int | None = None, _chunk_bins: int | None = None) -> None:
        if not _k.available():
            raise ConfigError(f"the compiled engine is unavailable: {_k.why_unavailable()}")
        if not _warm:
            _k.warm_up()
        h = np.asarray(h, dtype=np.float64)
        if h.ndim == 1:
            h = h[np.newaxis, :]
        if h.ndim != 2 or h.shape[1] == 0:
            raise SignalError(f"FIR must be (n_channels, n_taps) with n_taps >= 1, got shape {h.shape}")
        if not np.all(np.isfinite(h)):
            raise SignalError("FIR contains NaN or Inf taps; the filter is damaged")
        B = int(block)
        if B < 1:
            raise ConfigError(f"block size must be >= 1 sample, got {block}")
        max_block = B if max_block is None else int(max_block)
        if max_block < B or max_block % B:
            raise ConfigError(f"max_block {max_block} must be a positive multiple of block {B}")
        C, N = h.shape
        self.n_channels, self.n_taps = C, N
        self.block, self.max_block = B, max_block
        self.levels = plan_scheduled(N, block=B) if levels is None else tuple(levels)
        self._check_levels()
        self._pair_min = _PAIR_MIN if _pair_min is None else int(_pair_min)
        self.late_waits = 0             # interface of PartitionedConvolver: no workers here
        self.async_min = None
        self.worker_realtime = False
        self.worker_error = ""
        P_max = max(lv.size for lv in self.levels)
        F_max = max(fft_size(2 * lv.size) for lv in self.levels)
        # real-time periods get measured plans (kept on disk); offline rendering's large chunks
        # (16384 samples and more) plan at once: a one-off render would not win the time back
        self._fftw = _k.Fftw(measure=B <= 8192)
        self._sin = _k.aligned_zeros((F_max,), np.float32)
        self._sspec = _k.aligned_zeros((F_max // 2 + 1,), np.complex64)
        self._stime = _k.aligned_zeros((F_max,), np.float32)
        # input history: a frame of F samples is read up to r - 1 periods after its block
        # completed, so F_max + P_max samples suffice; a multiple of the block keeps each
        # write unwrapped
        self._xring = np.zeros((C, B * -(-(2 * F_max + 2 * P_max) // B)), np.float32)
        reach = max(lv.offset + lv.size for lv in self.levels)
        self._acc = np.zeros((C, B * -(-(reach + 2 * P_max + 2 * B) // B)), np.float32)
        ilv = np.zeros((len(self.levels), _ck.ILV_COLS), np.int64)
        Hs, windows, kinds_of = [], [], []
        x_off = y_off = 0
        for li, lv in enumerate(self.levels):
            P, M = lv.size, lv.n_parts
            r = P // B
            F = fft_size(2 * P)
            K = F // 2 + 1
            Kp = -(-K // 8) * 8          # slots on 64-byte boundaries (FFTW's new-array execute)
            G = 2 if (M >= 3 and P >= self._pair_min) else 1
            seg = np.zeros((C, M * P))
            part = h[:, lv.offset:lv.end]
            seg[:, :part.shape[1]] = part
            pad = np.zeros((C, M, F))
            pad[:, :, :P] = seg.reshape(C, M, P)
            # FFTW's inverse is unnormalised: fold 1/F into the filter spectra
            Hl = np.zeros((C, M, Kp), np.complex64)
            Hl[:, :, :K] = np.fft.rfft(pad, axis=-1) / F
            Hs.append(Hl.ravel())
            plan_f = self._fftw.r2c(F, self._sin, self._sspec)
            plan_i = self._fftw.c2r(F, self._sspec, self._stime)
            fft_cost = _COST_FFT * F * math.log2(F)
            # the multiply-accumulates of a spread level are cut into bin ranges of about
            # _CHUNK_BINS bins (the head level's run in one task: it has one period)
            n_ch = max(1, round(K / (_CHUNK_BINS if _chunk_bins is None else _chunk_bins))) if r > 1 else 1
            CH = -(-(-(-K // n_ch)) // 8) * 8
            n_ch = -(-K // CH)
            ilv[li] = (P, M, r, lv.offset, x_off, y_off, plan_f, plan_i, 0, F, Kp, G, CH)
            x_off += C * M * Kp
            y_off += C * G * Kp
            for g in range(G):
                kinds, costs = [], []
                for c in range(C):
                    kinds.append((0, c, 0))
                    costs.append(fft_cost)
                    if G == 1:
                        for k in range(n_ch):
                            kinds.append((1, c, k))
                            costs.append(_COST_MAC * M * min(CH, K - k * CH))
                    elif c % 2 == g:
                        for k in range(n_ch):
                            kinds.append((3, c, k))
                            costs.append(_COST_PASS * 2 * M * min(CH, K - k * CH))
                    else:
                        kinds.append((4, c, 0))
                        costs.append(_COST_MAC * K)
                    kinds.append((2, c, 0))
                    costs.append(fft_cost)
                windows.append((costs, r, G, g))
                kinds_of.append((li, kinds))
        phases = _schedule(windows)
        tasks, tptr = [], [0]
        for (li, kinds), (_, r, G, g), phase in zip(kinds_of, windows, phases):
            if g == 0:
                ilv[li, _ck.I_PB] = len(tptr) - 1
            order = sorted(range(len(kinds)), key=lambda i: (phase[i], i))
            counts = np.bincount(phase, minlength=r)
            tasks.extend(kinds[i] for i in order)
            start = tptr[-1]
            for s_ in range(r):
                start += int(counts[s_])
                tptr.append(start)
        self._H = _k.aligned_zeros((x_off,), np.complex64)
        self._H[:] = np.concatenate(Hs)
        self._X = _k.aligned_zeros((x_off,), np.complex64)
        self._Y = _k.aligned_zeros((y_off,), np.complex64)
        self._ilv = ilv
        self._tasks = np.asarray(tasks, np.int64).reshape(-1, 3)
        self._tptr = np.asarray(tptr, np.int64)
        ex_f, ex_i = self._fftw.execute_dft_addresses
        self._state = np.array([0, B, self._fftw.execute_address, ex_f, ex_i], np.int64)
        self._fftw.keep_wisdom()
        self.reset()     # writes every buffer once: no page is first touched in the callback

    @property
    def latency_samples(self) -> int:
        """Added algorithmic delay (samples): always 0."""
        return 0

    def _check_levels(self) -> None:
        lv, B = self.levels, self.block
        if not lv or lv[0].offset != 0 or lv[0].size != B:
            raise ConfigError("the first level must start at tap 0 with the block size as partition")
        for a, b in zip(lv, lv[1:]):
            if b.offset != a.end:
                raise ConfigError(f"levels must be contiguous: {a} then {b}")
        for x in lv[1:]:
            if x.size % B or x.size <= B or x.offset < _min_offset(x.size, B, 2 * B):
                raise ConfigError(f"level {x} cannot be spread before its deadline at block {B}")
        if lv[-1].end < self.n_taps:
            raise ConfigError(f"levels cover {lv[-1].end} taps, the filter has {self.n_taps}")

    def reset(self) -> None:
        """Clear all state (in place)."""
        for a in (self._xring, self._acc, self._X, self._Y):
            a.fill(0)
        self._state[0] = 0

    def close(self) -> None:
        """Destroy the FFTW plans (idempotent; call off the audio thread)."""
        self._fftw.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Convolve the next ``n`` samples (``(n_channels, n)`` float32, ``n`` a multiple of
        ``block`` up to ``max_block``) into ``out`` (same shape, not aliasing ``x``)."""
        _k.conv_run(x, out, x.shape[1], self._xring, self._acc, self._X, self._H, self._Y,
                    self._sin, self._sspec, self._stime, self._ilv, self._tasks, self._tptr, self._state)
        return out

    def kernel_args(self) -> tuple:
        """The state arrays :func:`monitor.kernels.conv_run` takes after ``(x, out, n)``, for
        callers that run the convolution inside a larger compiled call (the engine's chains)."""
        return (self._xring, self._acc, self._X, self._H, self._Y, self._sin, self._sspec, self._stime,
                self._ilv, self._tasks, self._tptr, self._state)

    def check_block(self, n: int) -> None:
        """Raise :class:`ConfigError` unless ``n`` samples can be processed in one call."""
        if n <= 0 or n % self.block or n > self.max_block:
            raise ConfigError(
                f"{n} samples cannot be processed: need a positive multiple of {self.block} up to {self.max_block}")
