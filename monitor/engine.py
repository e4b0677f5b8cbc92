"""The monitor engine: per-speaker correction chains, A/B/bypass with loudness-matched crossfades,
click-free profile swaps, and the output safety stage.

A chain (:mod:`monitor.chain`, re-exported here) is one profile's per-speaker filters.
Chains are built off the audio thread (:func:`build_chain`), handed to the audio thread
through a one-slot mailbox (a plain attribute: CPython makes the reference swap atomic, no
lock) and installed at a block boundary.  Every loaded chain (slot A, slot B, bypass) runs
on every block, so each always holds the current input history and a switch is a pure
crossfade between two steady-state outputs.  A newly built chain first runs silently for
its filter length ("warming") before the crossfade starts, so it enters with its state full.

Loudness matching: each chain's gain for pink noise through the BS.1770 K-weighting over
20 Hz..20 kHz (power-averaged over channels) is computed when it is built; bypass and slot B
are scaled to the loudness of slot A, so "calibrated vs bypass" compares filters, not levels.

Time alignment: every slot is padded so that all share the largest FIR bulk latency of the
loaded slots, so "calibrated vs bypass" (and A vs B) also compares filters, not arrival
times (:class:`Engine`, Notes).
"""

from __future__ import annotations

import math

import numpy as np

from calib.errors import ConfigError, ProfileError
from calib.profile import CalibrationProfile
from monitor import kernels as _kernels
from monitor import limkernels as _limkernels
from monitor import period_kernel as _pk
from monitor.chain import Chain, build_chain, fir_bulk_latency_samples, loudness_gain_db
from monitor.dsp import FRACTIONAL_LATENCY_SAMPLES
from monitor.limiter import Limiter
from monitor.period_plan import chain_process as _chain_process
from monitor.period_plan import make_plan as _make_plan
from monitor.period_plan import peak as _peak
from monitor.period_plan import warm_chain_run as _warm_chain_run

__all__ = ["Chain", "build_chain", "Engine", "SLOTS", "loudness_gain_db", "fir_bulk_latency_samples"]

SLOTS = ("A", "B", "bypass")
#: Default longest alignment padding (s) an engine can give a chain (see :class:`Engine`).
MAX_ALIGN_S = 1.0


class Engine:
    """Slots A, B and bypass, crossfades, and the safety stage.

    Parameters
    ----------
    fs : int
        Running sample rate (Hz).
    n_channels : int
        Channels in = channels out.
    block : int
        Processing block (samples), 1..8192; every :meth:`process` call takes a multiple.
    max_block : int, optional
        Most samples per call (offline rendering uses large chunks); default ``block``.
    fade_s : float
        Crossfade length (s), default 50 ms.
    loudness_match : bool
        Scale bypass and slot B to slot A's loudness (default True).
    threads : int
        Worker threads per chain for the FIR (offline rendering only; 1 in real time).
    limiter : dict, optional
        Keyword arguments of :class:`monitor.limiter.Limiter` (``ceiling_dbfs`` ...).
    bypass : bool
        Keep the bypass slot running (default True; offline rendering of one profile turns
        it off to save its processing).
    fir_block : int, optional
        Head partition of the FIRs (samples); default ``block``.  Offline rendering, which
        has the whole file and no latency to keep, sets it to a large power-of-two multiple
        of ``block`` (e.g. 16384): the FIR then runs as a few large-FFT partitions instead
        of the real-time 256 + 1024 + 8192 scheme, about 3x less arithmetic, and
        :func:`render_chunks` feeds whole multiples of it.  The output equals the
        real-time path within FFT round-off (nulls <= -120 dB, tested); every other stage
        (gain, delay, biquads, limiter) is the same code on the same samples.  Must divide
        ``max_block``.  Real time keeps the default.
    max_align_s : float
        Longest alignment padding a chain can take (s, 0..10; default 1 s): the largest
        difference of bulk latencies between loaded slots, bypass included.  Each chain keeps
        ``ceil(max_align_s fs) + 2 max_block`` samples per channel for it (1 s at 48 kHz,
        2 channels, block 256: 0.39 MB); 0 turns time alignment off.
    fir_worker : bool
        Real time (``monitor run``): FIR partitions of 4 blocks and longer run on a background
        thread per chain, with one partition of slack (see :mod:`monitor.convolver`), so the
        callback does the same small amount of work every period instead of a large FFT every
        32nd.  Same output, bit for bit.  Default False (offline rendering and tests).

    Notes
    -----
    **Time alignment.**  A correction FIR usually delays the sound by a bulk latency (its
    main peak at tap ``D > 0``, :func:`fir_bulk_latency_samples`); bypass has none.  So that
    an A/B/bypass switch changes the filter and not the time (no image shift, no comb
    filtering during the crossfade), every slot is padded at its output with a whole-sample
    delay ``T - D_slot``, where ``T`` (:attr:`bulk_latency_samples`) is the largest bulk
    latency of the loaded slots.  Per-speaker alignment delays (``delay_s``) are part of the
    correction and are not given to bypass.  ``T`` is recomputed when a slot is (re)loaded:

    * the new chain is padded for the new ``T`` before it starts warming, and warms for its
      filter length plus its padding (plus the growth of ``T``, so every other slot has the
      history its new padding reads) before it is installed;
    * at installation every slot off the air moves to its new padding at once (its output is
      at once the steady output at the new delay: the padding reads a ring that always
      holds the chain's recent output);
    * the chain on the air never jumps: its padding moves by a crossfade of the engine's
      fade length between the old and the new delay (the monitor's latency changes, once, on
      the load that changes ``T``); a chain being faded out keeps its padding until the
      fade is over.  Commands wait while such a fade runs (:attr:`in_transition`).

    A chain that replaces the one on the air takes over in the usual crossfade; when ``T``
    changes with it, that crossfade is also the (single) latency change.
    """

    def __init__(self, *, fs: int, n_channels: int, block: int, max_block: int | None = None,
                 fade_s: float = 0.05, loudness_match: bool = True, threads: int = 1,
                 limiter: dict | None = None, bypass: bool = True, fir_block: int | None = None,
                 max_align_s: float = MAX_ALIGN_S, fir_worker: bool = False) -> None:
        if not (1 <= int(block) <= 8192):
            raise ConfigError(f"block size {block} is outside 1..8192 samples")
        if not (1 <= int(n_channels) <= 64):
            raise ConfigError(f"{n_channels} channels is outside 1..64")
        if not (0.001 <= fade_s <= 2.0):
            raise ConfigError(f"crossfade {fade_s} s is outside 1 ms..2 s")
        if not (0.0 <= max_align_s <= 10.0):
            raise ConfigError(f"alignment capacity max_align_s = {max_align_s} s is outside 0..10 s")
        _kernels.warm_up()                  # compiled kernels ready before any audio (no-op without)
        _limkernels.warm_up()               # the compiled safety stage likewise
        _warm_chain_run()
        _pk.warm_up()                       # and the one-call period (monitor.period_kernel)
        self.fs = int(fs)
        self.n_channels = int(n_channels)
        self.block = int(block)
        self.max_block = self.block if max_block is None else int(max_block)
        if self.max_block % self.block:
            raise ConfigError(f"max_block {self.max_block} must be a multiple of the block {self.block}")
        self.fir_block = self.block if fir_block is None else int(fir_block)
        if self.fir_block < self.block or self.fir_block % self.block or self.max_block % self.fir_block:
            raise ConfigError(f"fir_block {self.fir_block} must be a multiple of the block {self.block} "
                              f"dividing max_block {self.max_block}")
        self.threads = int(threads)
        self.fir_worker = bool(fir_worker)
        self.align_capacity = int(math.ceil(max_align_s * self.fs))
        self._total = 0                     # T: common bulk latency of the slots (samples)
        self._pending_total = 0             # T once the warming chain is installed
        self.loudness_match = bool(loudness_match)
        self.limiter = Limiter(self.n_channels, fs=self.fs, max_block=self.max_block, **(limiter or {}))
        self.fade_samples = max(1, int(round(fade_s * self.fs)))
        k = np.arange(1, self.fade_samples + 1, dtype=np.float64)
        self._ramp = (np.sin(0.5 * np.pi * k / self.fade_samples) ** 2).astype(np.float32)  # sum with cos^2 = 1
        C, N = self.n_channels, self.max_block
        self._slots: list[Chain | None] = [None, None, None]
        if bypass:
            self._slots[2] = build_chain(None, fs=self.fs, n_channels=C, block=self.block, max_block=N,
                                         align_capacity=self.align_capacity)
        self._active = 2
        self._from: Chain | None = None     # chain fading out
        self._fade_pos = 0
        self._pending_slot = -1             # slot the warming chain will occupy
        self._pending_activate = False
        self._warming: Chain | None = None
        self._warm_left = 0
        self._mailbox = None                # (kind, slot, chain) posted by the control thread
        self.retired: Chain | None = None   # for the control thread to drop (no free on audio thread)
        self._y = [np.zeros((C, N), np.float32) for _ in range(3)]
        self._yw = np.zeros((C, N), np.float32)
        self._yf = np.zeros((C, N), np.float32)
        self._x = np.zeros((C, N), np.float32)
        self._mix = np.zeros((C, N), np.float32)
        self._out = np.zeros((C, N), np.float32)     # limiter output of the one-call host period
        self._plan = None                   # table of the steady period (monitor.period_plan)
        self.in_peak = np.zeros(C, np.float32)
        self.out_peak = np.zeros(C, np.float32)
        self.swaps = 0
        self._running = False

    # ------------------------------------------------------------ control side
    @property
    def latency_samples(self) -> int:
        """Input-to-output delay added by the engine itself (samples), beyond the block buffering.

        The Thiran reserve (:data:`monitor.dsp.FRACTIONAL_LATENCY_SAMPLES`) plus the limiter's
        look-ahead.  The filters' own delays are not in it: a slot's FIR bulk latency plus its
        alignment padding is :attr:`bulk_latency_samples` for every slot, so the main impulse
        of any slot leaves ``latency_samples + bulk_latency_samples`` (+ the speaker's
        ``delay_s``) after it entered.  :func:`render_chunks` removes only ``latency_samples``:
        a rendered file keeps its profile's FIR delay, and with one slot loaded the padding
        is 0, so a single profile renders exactly as without alignment.
        """
        return FRACTIONAL_LATENCY_SAMPLES + self.limiter.latency_samples

    @property
    def bulk_latency_samples(self) -> int:
        """``T``: the total bulk latency (FIR + padding, samples) every loaded slot runs at."""
        return self._total

    def build(self, profile: CalibrationProfile | None) -> Chain:
        """Build a chain for this engine (call off the audio thread)."""
        return build_chain(profile, fs=self.fs, n_channels=self.n_channels, block=self.block,
                           max_block=self.max_block, threads=self.threads, fir_block=self.fir_block,
                           align_capacity=self.align_capacity, fir_worker=self.fir_worker)

    def _check_alignable(self, chain: Chain, idx: int) -> None:
        """Raise if ``chain`` in slot ``idx`` and the other slots cannot be padded to one ``T``."""
        others = [(SLOTS[k], ch) for k, ch in enumerate(self._slots) if ch is not None and k != idx]
        if self._warming is not None and self._pending_slot != idx:
            others.append((SLOTS[self._pending_slot], self._warming))
        if not others:
            return
        d = chain.bulk_latency_samples
        total = max([d] + [ch.bulk_latency_samples for _, ch in others])
        worst = max([(total - d, SLOTS[idx])] + [(total - ch.bulk_latency_samples, s) for s, ch in others])
        if worst[0] > self.align_capacity:
            raise ProfileError(
                f"{chain.name!r} has a bulk latency of {d} samples ({1e3 * d / self.fs:.1f} ms); "
                f"time-aligning slot {worst[1]} with it needs {worst[0]} samples of padding, more than "
                f"the engine's {self.align_capacity} ({1e3 * self.align_capacity / self.fs:.0f} ms); "
                f"design the FIR with a smaller delay (or build the engine with a larger max_align_s)")

    def post(self, kind: str, slot: str, chain: Chain | None = None) -> bool:
        """Hand a command to the audio thread; False if the previous one is not taken yet."""
        if self._mailbox is not None:
            return False
        if slot not in SLOTS:
            raise ConfigError(f"unknown slot {slot!r}; expected one of {', '.join(SLOTS)}")
        self._mailbox = (kind, SLOTS.index(slot), chain)
        return True

    def load(self, profile: CalibrationProfile, slot: str = "A", *, activate: bool = True) -> Chain:
        """Build ``profile`` and queue it for ``slot`` (warmed, then crossfaded in if active).

        Offline callers (nothing running yet) get it installed at once.
        """
        chain = self.build(profile)
        idx = SLOTS.index(slot)
        self._check_alignable(chain, idx)
        if not self._running and self._warming is None and idx != 2:
            self._plan = None
            self._slots[idx] = chain   # first load: install directly, no fade from silence
            if activate:
                self._active = idx
            self._update_matching()
            self._total = self._target_total(idx, chain)
            self._realign()            # nothing on the air yet: every padding set at once
            return chain
        self._wait_post("install" if not activate else "install_activate", slot, chain)
        return chain

    def select(self, slot: str) -> None:
        """Crossfade to ``slot`` ("A", "B" or "bypass")."""
        self._wait_post("select", slot)

    def _wait_post(self, kind: str, slot: str, chain: Chain | None = None) -> None:
        import time

        for _ in range(2000):
            if self.post(kind, slot, chain):
                return
            time.sleep(0.001)
        raise ConfigError("the audio thread did not take the previous command within 2 s; is the stream running?")

    def collect(self) -> None:
        """Release retired chains (control thread)."""
        r = self.retired
        if r is not None:
            self.retired = None
            r.close()

    def close(self) -> None:
        """Stop every chain's FIR worker threads (after the stream stopped; idempotent)."""
        chains = {id(c): c for c in (*self._slots, self._warming, self._from, self.retired) if c is not None}
        for c in chains.values():
            c.close()

    def _update_matching(self) -> None:
        ref = self._slots[0]
        for k, ch in enumerate(self._slots):
            if ch is None:
                continue
            ch.match_db = 0.0 if (ref is None or k == 0 or not self.loudness_match) else ref.loudness_db - ch.loudness_db
        if self._warming is not None and ref is not None and self.loudness_match and self._pending_slot != 0:
            self._warming.match_db = ref.loudness_db - self._warming.loudness_db

    @property
    def active_slot(self) -> str:
        return SLOTS[self._active]

    @property
    def running_hash(self) -> str:
        """Content hash of the profile on the air ("bypass" when bypassed)."""
        ch = self._slots[self._active]
        return ch.content_hash if ch is not None else "bypass"

    def slot_hash(self, slot: str) -> str | None:
        ch = self._slots[SLOTS.index(slot)]
        return None if ch is None else ch.content_hash

    @property
    def in_transition(self) -> bool:
        """A crossfade, a warming chain or a faded alignment change is in progress."""
        return self._from is not None or self._warming is not None or self._aligning()

    # ------------------------------------------------------------ alignment
    def _aligning(self) -> bool:
        for ch in self._slots:
            if ch is not None and ch.align.fading:
                return True
        return False

    def _target_total(self, idx: int, chain: Chain) -> int:
        """``T`` once ``chain`` sits in slot ``idx``: the largest bulk latency of the slots."""
        total = chain.bulk_latency_samples
        for k, ch in enumerate(self._slots):
            if ch is not None and k != idx and ch.bulk_latency_samples > total:
                total = ch.bulk_latency_samples
        return total

    def _pad(self, chain: Chain) -> int:
        """Padding of ``chain`` for the current ``T`` (clamped to its capacity, never negative)."""
        return min(max(self._total - chain.bulk_latency_samples, 0), chain.align.capacity)

    def _realign(self) -> None:
        """Move every slot to its padding for ``T``: off the air at once, on the air faded.

        A chain being faded out keeps its padding (called again when its fade ends).
        """
        for k in range(3):
            ch = self._slots[k]
            if ch is None or ch is self._from:
                continue
            pad = self._pad(ch)
            if pad != ch.align.delay:
                if k == self._active and self._running:
                    ch.align.set(pad, ramp=self._ramp)
                else:
                    ch.align.set(pad)

    # ------------------------------------------------------------ audio thread
    def _take_mail(self) -> None:
        cmd = self._mailbox
        if cmd is None or self.in_transition:
            return
        self._mailbox = None
        kind, idx, chain = cmd
        if kind == "select":
            if self._slots[idx] is not None and idx != self._active:
                self._from = self._slots[self._active]
                self._active = idx
                self._fade_pos = 0
        else:
            chain.match_db = 0.0
            self._warming = chain
            self._pending_slot = idx
            self._pending_activate = kind == "install_activate"
            total = self._target_total(idx, chain)
            self._pending_total = total
            pad = min(max(total - chain.bulk_latency_samples, 0), chain.align.capacity)
            chain.align.set(pad)
            # filter length, then the padding's history; when T grows, the other slots also
            # need that much more history before their padding grows at installation
            self._warm_left = chain.warm_samples + pad + max(0, total - self._total)
            self._update_matching()

    #: bass management: a monitor.routing.Router (programme channels -> speaker feeds) run
    #: before every slot, or None.  Set by the caller for a profile with routing.
    routing = None

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Process one block: ``x`` and ``out`` are ``(n_channels, n)`` float32, n a multiple of block.

        In the steady state (no command waiting, nothing fading, warming or ramping) the whole
        period is one compiled call (:mod:`monitor.period_kernel`); otherwise each stage runs
        on its own (:meth:`_process_stages`), and the table of the one-call period is made
        again once the state is steady.  Both run the same kernels in the same order.
        """
        plan = self._plan
        if plan is not None and self._mailbox is None and self.routing is None:
            _pk.engine_period(x, out, x.shape[1], plan.tab)
            return out
        return self._process_stages(x, out)

    def process_host(self, indata: np.ndarray, outdata: np.ndarray, n: int, n_in: int, n_out: int) -> bool:
        """The real-time callback's period in one compiled call when the engine is steady:
        ``indata``/``outdata`` ``(frames, channels)`` (input ``c < n_in`` feeds channel ``c``,
        channel ``c < n_out`` plays on output ``c``, the rest silence).  False (nothing done)
        when the state is not steady: the caller then runs :meth:`process`."""
        plan = self._plan
        if plan is None or self._mailbox is not None or self.routing is not None:
            return False
        return _pk.host_period(indata, outdata, n, n_in, n_out, plan.tab)

    def _process_stages(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """One block, stage by stage (transitions; the numpy reference path)."""
        self._plan = None
        n = x.shape[1]
        if self.routing is not None:        # x holds the programme channels (routing.n_inputs)
            x = self.routing.process(x, np.empty((self.n_channels, n), np.float32))
        self._running = True
        self._take_mail()
        xs = self._x[:, :n]
        np.copyto(xs, x)
        lim = self.limiter
        if lim.compiled:
            # NaN/Inf never enter any filter state; input meter in the same pass
            nb = _kernels.sanitise_peak_run(xs, self.in_peak)
            if nb:
                lim.nonfinite_samples += nb
            for k in range(3):
                ch = self._slots[k]
                if ch is not None:
                    _chain_process(ch, xs, self._y[k][:, :n])
            if self._warming is not None:
                _chain_process(self._warming, xs, self._yw[:, :n])
        else:
            lim._sanitise(xs)
            _peak(xs, self.in_peak)
            for k in range(3):
                ch = self._slots[k]
                if ch is not None:
                    ch.process(xs, self._y[k][:, :n])
            if self._warming is not None:
                self._warming.process(xs, self._yw[:, :n])
        if self._from is None:
            # no crossfade: the active chain's output buffer is the mix (rewritten next block)
            mix = self._y[self._active][:, :n]
        else:
            mix = self._mix[:, :n]
            np.copyto(mix, self._y[self._active][:, :n])
        if self._from is not None:
            # the outgoing chain no longer sits in a slot only when it was replaced
            yf = self._yf[:, :n]
            if any(self._from is s for s in self._slots):
                np.copyto(yf, self._y[self._slots.index(self._from)][:, :n])
            else:
                self._from.process(xs, yf)
            p = self._fade_pos
            m = min(n, self.fade_samples - p)
            w = self._ramp[p:p + m]
            # mix = w * new + (1 - w) * old  ==  old + w * (new - old)
            mix[:, :m] -= yf[:, :m]
            mix[:, :m] *= w
            mix[:, :m] += yf[:, :m]
            self._fade_pos = p + m
            if self._fade_pos >= self.fade_samples:
                if not any(self._from is s for s in self._slots):
                    self.retired = self._from
                self._from = None
                self.swaps += 1
                self._realign()         # the chain faded out may now take its padding
        if self._warming is not None:
            self._warm_left -= n
            if self._warm_left <= 0 and self._from is None and not self._aligning():
                idx = self._pending_slot
                activate = self._pending_activate
                old = self._slots[idx]
                self._slots[idx] = self._warming
                self._y[idx], self._yw = self._yw, self._y[idx]
                self._warming = None
                if idx == self._active and old is not None:
                    self._from = old
                    self._fade_pos = 0
                elif activate and idx != self._active:
                    self._from = self._slots[self._active]
                    self._active = idx
                    self._fade_pos = 0
                    if old is not None:
                        self.retired = old
                elif old is not None:
                    self.retired = old
                self._update_matching()
                self._total = self._pending_total
                self._realign()
        self.limiter.process(mix, out)
        _peak(out, self.out_peak)
        if self._mailbox is None and self._from is None and self._warming is None:
            self._plan = _make_plan(self)
        return out

    def status(self) -> dict:
        """Plain-data snapshot for the UI and ``--json`` (read from any thread)."""
        lim = self.limiter
        return {
            "active": self.active_slot,
            "running_hash": self.running_hash,
            "slots": {s: (None if c is None else {"name": c.name, "content_hash": c.content_hash,
                                                  "loudness_db": c.loudness_db, "match_db": c.match_db,
                                                  "bulk_latency_samples": c.bulk_latency_samples,
                                                  "align_samples": c.align_samples})
                      for s, c in zip(SLOTS, self._slots)},
            "in_transition": self.in_transition,
            "swaps": self.swaps,
            # engine's own latency (render removes it); every slot adds bulk_latency_samples
            "latency_samples": self.latency_samples,
            "bulk_latency_samples": self.bulk_latency_samples,
            "limiter": {"ceiling_dbfs": lim.ceiling_dbfs, "gain_reduction_db": lim.gain_reduction_db,
                        "limited_samples": lim.limited_samples, "clipped_samples": lim.clipped_samples,
                        "nonfinite_samples": lim.nonfinite_samples, "jumps": lim.jumps},
        }


def render_chunks(engine: Engine, chunks, n_samples: int, *, copy: bool = True):
    """Run ``engine`` over an iterable of ``(n_channels, k)`` float32 chunks; yield the output
    aligned with the input (the engine's latency removed), ``n_samples`` in total.

    With ``copy=False`` the yielded arrays are views valid until the next iteration.

    Each chunk may have any length up to ``engine.max_block`` that is a multiple of
    ``engine.fir_block`` (any length for the last one), which is zero-padded to a whole
    ``fir_block``.  After the input, zeros are fed until the delayed output is complete.
    """
    L = engine.latency_samples
    C, N, B = engine.n_channels, engine.max_block, engine.fir_block
    buf = np.zeros((C if engine.routing is None else engine.routing.n_inputs, N), np.float32)
    out = np.zeros((C, N), np.float32)
    skip = L
    left = int(n_samples)

    def run(k: int):
        nonlocal skip, left
        kk = -(-k // B) * B
        if kk > k:
            buf[:, k:kk] = 0.0
        engine.process(buf[:, :kk], out[:, :kk])
        y = out[:, :kk]
        if skip:
            d = min(skip, kk)
            y = y[:, d:]
            skip -= d
        if y.shape[1] > left:
            y = y[:, :left]
        left -= y.shape[1]
        return y

    padded = False
    for ch in chunks:
        k = ch.shape[1]
        if k > N:
            raise ConfigError(f"chunk of {k} samples exceeds the engine's max_block {N}")
        if padded:
            # zeros were inserted after the previous chunk: only the last chunk may be short
            raise ConfigError(f"only the last chunk may be shorter than a multiple of {B} samples")
        padded = k % B != 0
        buf[:, :k] = ch
        y = run(k)
        if y.shape[1]:
            yield y.copy() if copy else y
    while left > 0:
        buf.fill(0.0)
        y = run(N)
        if y.shape[1]:
            yield y.copy() if copy else y
