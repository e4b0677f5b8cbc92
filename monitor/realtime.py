"""The real-time callback of the monitor engine.

THE CONTRACT (every line of code reachable from :meth:`RealtimeProcessor.callback`)
----------------------------------------------------------------------------------
1. Blocks are float32: ``indata``/``outdata`` as the host gives them, ``(frames, channels)``.
2. Nothing is allocated that outlives the call: every buffer the path writes (input and
   output staging, filter states, FFT delay lines, overlap accumulators, meters, the event
   ring) is created before the stream starts.  The only transient objects are numpy's
   small temporaries and the result arrays of ``scipy.fft``/``scipy.signal`` (which have no
   ``out=``), all freed again before the call returns; no container grows.
3. No logging, no printing, no file or network I/O; numpy's floating-point warnings are off
   inside the call (hostile input overflows; a warning would print from the audio thread).
4. No locks held: the control thread talks to the audio thread through single-reference
   mailboxes (``Engine.post``) and plain counters; CPython makes those reads and writes
   atomic.  Retired chains are parked for the control thread to free.  FIR worker levels
   (``monitor.convolver``, real time only) are handed over the same way: a frame copied into
   a preallocated job slot, a counter bumped, and one byte written to a non-blocking pipe to
   wake the worker (the only system call on this path; a full pipe is ignored).
   With the compiled engine (:mod:`monitor.kernels`, :mod:`monitor.fastconv`: numba + FFTW,
   the default where both are installed) the FIRs, delays and meters are one compiled call
   each: no worker threads, no pipe, nothing waited for; every kernel version the callback
   uses is compiled (or loaded from numba's cache) and every FFTW plan made when the engine
   and its chains are built, never in the callback (tested: the kernels' signature lists do
   not grow while blocks run).  The kernels release the GIL while they run, as numpy's and
   scipy.fft's large operations did before them.
5. No exception escapes: anything raised is caught, the block is silenced (safe for the
   speakers), and the error is counted with its type name kept for the UI thread.
6. Time is measured with ``time.perf_counter``: DSP load = processing time / block duration;
   an overload (load above ``overload_threshold``) and every host xrun are counted and
   written into a preallocated ring that the UI thread drains and logs.  An xrun reported
   within ``BLAME_WINDOW`` callbacks after an overload is counted as caused by processing
   (``xruns_processing``, conservative: the host may have been late anyway); the others are
   the host's (``xruns_host``: the server, other clients, the machine).  The thread's own
   CPU time (``time.thread_time``) is measured too: ``cpu_overloads`` counts blocks whose
   processing alone exceeded the threshold, so an xrun without one was caused by something
   else on the machine (preemption), not by the engine (read once per period and a second
   time only when the wall clock says it matters: :meth:`RealtimeProcessor._account`).
7. In the steady state (nothing fading, warming or ramping, no command waiting) the whole
   period -- host block in, every chain, limiter, meters, host block out -- is one compiled
   call together with this module's bookkeeping (:func:`monitor.period_kernel.rt_period`:
   the clocks, load, overload and thread-CPU figures of point 6 on one float64 array,
   :mod:`monitor.rt_account`, the same arithmetic as :meth:`RealtimeProcessor._account`);
   the Python here is one check of the state and that call.  Otherwise (an xrun flag, a
   transition, another dtype or block) the period runs the general path
   (:meth:`RealtimeProcessor._callback`, stage by stage when not steady).

A new profile is built off the audio thread (``Engine.load``) and swapped in at a block
boundary with a crossfade (see :mod:`monitor.engine`).
"""

from __future__ import annotations

import os
import time

import numpy as np

from monitor import rt_account as _ra
from monitor.engine import Engine

try:
    from monitor import period_kernel as _pk
    _rt_period = _pk.rt_period if (_pk.available() and _ra.compiled()) else None
except Exception:  # noqa: BLE001 - no compiled period: the staged path runs
    _rt_period = None

_perf = time.perf_counter
_thread_time = time.thread_time
_F32 = np.dtype(np.float32)

__all__ = ["RealtimeProcessor", "shield_control_thread", "EVENT_OVERLOAD", "EVENT_XRUN", "EVENT_ERROR",
           "EVENT_BAD_FRAMES"]

EVENT_OVERLOAD = 1
EVENT_XRUN = 2
EVENT_ERROR = 3
EVENT_BAD_FRAMES = 4
EVENT_NAMES = {EVENT_OVERLOAD: "overload", EVENT_XRUN: "xrun", EVENT_ERROR: "error",
               EVENT_BAD_FRAMES: "block size mismatch"}
RING = 256
BLAME_WINDOW = 2        # callbacks after an overload in which an xrun is blamed on processing


class RealtimeProcessor:
    """Adapts an :class:`Engine` to a host duplex callback (``hardware.backend.DuplexCallback``).

    Parameters
    ----------
    engine : Engine
        Built for the stream's rate, channel count and block.
    n_inputs, n_outputs : int
        Channels of the host stream.  Input ``c`` feeds engine channel ``c`` (programme channel
        ``c`` when the engine routes: ``engine.routing``, set before this is built); engine
        channel ``c`` plays on output ``c``; missing inputs are silence, extra outputs are silent.
    overload_threshold : float
        DSP load (0..1) above which a block counts as an overload; default 0.8.
    trace_periods : int
        Keep the first ``trace_periods`` periods' ``last_load`` and ``last_cpu_load``
        (:meth:`trace`; for benchmarks: nothing read per period from Python).
    """

    def __init__(self, engine: Engine, *, n_inputs: int, n_outputs: int, overload_threshold: float = 0.8,
                 trace_periods: int = 0) -> None:
        self.engine = engine
        self.n_inputs = int(n_inputs)
        self.n_outputs = int(n_outputs)
        C, B = engine.n_channels, engine.max_block
        # with bass management (engine.routing) the engine takes the programme channels
        # (routing.n_inputs) and gives the speaker feeds (n_channels)
        C_in = C if engine.routing is None else engine.routing.n_inputs
        self._x = np.zeros((C_in, B), np.float32)
        self._y = np.zeros((C, B), np.float32)
        self._n_in = min(self.n_inputs, C_in)
        self._n_out = min(self.n_outputs, C)
        # counters and load figures (read by the UI thread through the properties below) live in
        # one float64 array that the compiled period updates in place (monitor.rt_account)
        _ra.warm_up()
        self._acc = _ra.new_state(fs=engine.fs, block=engine.block, overload_threshold=overload_threshold,
                                  blame_window=BLAME_WINDOW, trace_periods=trace_periods)
        self._rt = _rt_period
        self.xruns = 0
        self.xruns_processing = 0
        self.xruns_host = 0
        self.errors = 0
        self.bad_frames = 0
        self.last_error = ""
        # event ring: (kind, callback index, value); written by the audio thread only
        self._ev_kind = np.zeros(RING, np.int32)
        self._ev_when = np.zeros(RING, np.int64)
        self._ev_val = np.zeros(RING, np.float64)
        self._ev_w = 0
        self._ev_r = 0

    def _event(self, kind: int, value: float) -> None:
        i = self._ev_w % RING
        self._ev_kind[i] = kind
        self._ev_when[i] = int(self._acc[_ra.CALLBACKS])
        self._ev_val[i] = value
        self._ev_w += 1

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, status_flags: int) -> None:
        """The audio-thread entry point; see THE CONTRACT at the top of this module."""
        t0 = _perf()
        eng = self.engine
        plan = eng._plan
        # the steady state: period and bookkeeping in one compiled call (monitor.period_kernel);
        # an xrun flag, a transition, another dtype or shape take the general path below
        if plan is not None and not status_flags and eng._mailbox is None and eng.routing is None \
                and indata.dtype is _F32 and outdata.dtype is _F32 and self._rt is not None:
            try:
                r = self._rt(indata, outdata, frames, self._n_in, self._n_out, plan.tab, self._acc, t0)
            except BaseException:  # noqa: BLE001 - never again here: the general path from now on
                self._rt = None
                r = 0
            if r == 1:
                return
            if r == 2:
                self._event(EVENT_OVERLOAD, float(self._acc[_ra.LAST_LOAD]))
                return
        self._callback(indata, outdata, frames, status_flags, t0)

    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, status_flags: int,
                  t0: float) -> None:
        """The general path: xrun flags, transitions (stage by stage), odd blocks."""
        c0 = _thread_time()
        acc = self._acc
        try:
            acc[_ra.CALLBACKS] += 1.0
            if acc[_ra.CALLBACKS] == 1.0:
                acc[_ra.PROCESS_CPU0] = time.process_time()   # once: CPU of the whole process from here
            if status_flags:
                self._xrun(status_flags)
            eng = self.engine
            n = int(frames)
            if n <= 0 or n % eng.block or n > eng.max_block:
                outdata.fill(0.0)
                self.bad_frames += 1
                self._event(EVENT_BAD_FRAMES, float(n))
                return
            if indata.dtype != _F32 or outdata.dtype != _F32 or \
                    not eng.process_host(indata, outdata, n, self._n_in, self._n_out):
                self._stages(indata, outdata, n)
        except BaseException as exc:  # noqa: BLE001 - nothing escapes the audio thread
            try:
                outdata.fill(0.0)
            except BaseException:  # noqa: BLE001
                pass
            self.errors += 1
            self.last_error = type(exc).__name__
            self._event(EVENT_ERROR, 0.0)
        finally:
            self._account(_perf() - t0, c0, frames)

    def _xrun(self, status_flags: int) -> None:
        self.xruns += 1
        if self._acc[_ra.CALLBACKS] - self._acc[_ra.LAST_OVERLOAD] <= BLAME_WINDOW:
            self.xruns_processing += 1
        else:
            self.xruns_host += 1
        self._event(EVENT_XRUN, float(status_flags))

    def _stages(self, indata: np.ndarray, outdata: np.ndarray, n: int) -> None:
        """A period stage by stage (transitions, other layouts): staged copies, ``Engine.process``."""
        x = self._x[:, :n]
        if self._n_in < x.shape[0]:
            x.fill(0.0)
        np.copyto(x[: self._n_in], indata[:n, : self._n_in].T)
        y = self._y[:, :n]
        with np.errstate(all="ignore"):   # hostile input overflows: nothing printed from here
            self.engine.process(x, y)
        if self._n_out < outdata.shape[1]:
            outdata.fill(0.0)
        np.copyto(outdata[:n, : self._n_out], y[: self._n_out].T)

    def _account(self, dt: float, c0: float, frames: int) -> None:
        """Load bookkeeping of one period: wall time ``dt`` (s), thread CPU clock ``c0`` (s) at
        its start (:func:`monitor.rt_account.account`, the arithmetic the compiled period runs).

        Reading the thread's CPU clock is a system call (~0.6-1.3 us here, a few per cent of a
        small period), so it is read once per period, at the start: the smoothed
        ``cpu_load`` follows the CPU from one period's start to the next (the callback plus
        the host's own code around it).  The thread's CPU within a period never exceeds the
        wall time, so the end is read only when the wall-clock load could make a new
        ``cpu_load_max`` or a ``cpu_overload``: those two stay exact.
        """
        if _ra.account(self._acc, float(dt), float(c0), max(int(frames), 1)) == 2:
            self._event(EVENT_OVERLOAD, float(self._acc[_ra.LAST_LOAD]))

    # counters and figures (UI thread; the audio thread writes them in self._acc)
    callbacks = property(lambda self: int(self._acc[_ra.CALLBACKS]))
    overloads = property(lambda self: int(self._acc[_ra.OVERLOADS]))
    cpu_overloads = property(lambda self: int(self._acc[_ra.CPU_OVERLOADS]))
    load = property(lambda self: float(self._acc[_ra.LOAD]), doc="smoothed DSP load (0..1)")
    load_max = property(lambda self: float(self._acc[_ra.LOAD_MAX]))
    last_load = property(lambda self: float(self._acc[_ra.LAST_LOAD]))
    cpu_load = property(lambda self: float(self._acc[_ra.CPU_LOAD]),
                        doc="the audio thread's own CPU time per block / block duration (smoothed)")
    cpu_load_max = property(lambda self: float(self._acc[_ra.CPU_LOAD_MAX]))
    last_cpu_load = property(lambda self: float(self._acc[_ra.LAST_CPU_LOAD]),
                             doc="thread CPU from the previous period's start to this one's / period")

    @property
    def overload_threshold(self) -> float:
        """DSP load (0..1) above which a block counts as an overload."""
        return float(self._acc[_ra.THRESHOLD])

    @overload_threshold.setter
    def overload_threshold(self, value: float) -> None:
        self._acc[_ra.THRESHOLD] = float(value)

    def trace(self) -> tuple[np.ndarray, np.ndarray]:
        """The traced periods' ``last_load`` and ``last_cpu_load`` (views; ``trace_periods`` each)."""
        tn = int(self._acc[_ra.TRACE_N])
        return self._acc[_ra.N_ACC:_ra.N_ACC + tn], self._acc[_ra.N_ACC + tn:_ra.N_ACC + 2 * tn]

    def drain_events(self) -> list[tuple[str, int, float]]:
        """Events since the last drain, oldest first (UI thread): ``(name, callback, value)``.

        If more than the ring holds arrived, the oldest are lost (the counters stay exact).
        """
        w = self._ev_w
        r = max(self._ev_r, w - RING)
        out = []
        for k in range(r, w):
            i = k % RING
            out.append((EVENT_NAMES.get(int(self._ev_kind[i]), "?"), int(self._ev_when[i]), float(self._ev_val[i])))
        self._ev_r = w
        return out

    def stats(self) -> dict:
        """Plain-data snapshot (UI thread)."""
        return {
            "callbacks": self.callbacks, "xruns": self.xruns, "xruns_processing": self.xruns_processing,
            "xruns_host": self.xruns_host, "overloads": self.overloads,
            "errors": self.errors, "last_error": self.last_error, "bad_frames": self.bad_frames,
            "dsp_load": self.load, "dsp_load_max": self.load_max,
            "cpu_load": self.cpu_load, "cpu_load_max": self.cpu_load_max, "cpu_overloads": self.cpu_overloads,
            # CPU seconds of the whole process (every thread) since the first callback: what
            # running the stream costs, start-up excluded (None before the first callback)
            "process_cpu_s_streaming": (None if np.isnan(self._acc[_ra.PROCESS_CPU0])
                                        else time.process_time() - float(self._acc[_ra.PROCESS_CPU0])),
            "in_peak_dbfs": [_db(v) for v in self.engine.in_peak],
            "out_peak_dbfs": [_db(v) for v in self.engine.out_peak],
        }


def _db(v: float) -> float:
    v = float(v)
    return 20.0 * np.log10(v) if v > 0 else float("-inf")


def shield_control_thread(priority: int = 1) -> bool:
    """Run the CALLING thread (the audio process's control thread) under ``SCHED_FIFO`` at
    ``priority`` (1 = the lowest real-time priority); returns whether the policy was set.

    Why: the audio callback (the host's real-time thread, priority 65 under JACK -R) needs the
    GIL around its compiled call.  The control thread holds the GIL while it builds and pickles
    a status snapshot (~0.35 ms every 0.1 s).  As an ordinary thread it can be preempted by any
    other process in that window, and the callback then waits for the GIL until the scheduler
    gives the control thread back its CPU (a priority inversion: milliseconds on a busy 2-core
    machine).  At real-time priority 1 ordinary processes no longer preempt it, and it still
    never preempts the audio thread.  Needs CAP_SYS_NICE or an rtprio limit; without them
    nothing changes (False).  Linux applies the policy to the calling thread only.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
        return True
    except (AttributeError, OSError):
        return False
