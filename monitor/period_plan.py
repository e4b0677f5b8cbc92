"""The engine's compiled per-stage helpers and the table of its one-call period.

* :func:`chain_process`: ``Chain.process`` as one compiled call (:func:`monitor.kernels.chain_run`)
  when the chain is steady, the Python chain otherwise;
* :func:`make_plan`: the int64 table :mod:`monitor.period_kernel` runs a whole steady period
  from (``(address, rows, columns)`` of every array, see that module), or None when the
  engine is not in a steady state.

A plan keeps a reference to every array it describes (:class:`Plan`), so none can be freed
while the kernel may use it; the engine drops its plan at every change of state (a command
taken, a fade, a warming chain, an installation) before anything it described is retired.
"""

from __future__ import annotations

import numpy as np

from monitor import kernels as _kernels
from monitor import period_kernel as _pk

__all__ = ["chain_process", "fast_args", "warm_chain_run", "peak", "make_plan", "Plan"]

# placeholders of conv_run's arrays for a chain without FIR (the compiled call's types stay
# the same, so one compiled version serves every chain)
_NO_CONV = (np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32), np.zeros(1, np.complex64),
            np.zeros(1, np.complex64), np.zeros(1, np.complex64), np.zeros(1, np.float32),
            np.zeros(1, np.complex64), np.zeros(1, np.float32), np.zeros((1, 10), np.int64),
            np.zeros((1, 3), np.int64), np.zeros(2, np.int64), np.zeros(3, np.int64))


def fast_args(ch):
    """The static arguments of :func:`monitor.kernels.chain_run` for ``ch`` (kept on the chain),
    or None when the chain needs the Python path (several FIR groups, numpy convolver)."""
    args = getattr(ch, "_fast_args", None)
    if args is not None:
        return args or None
    from monitor.fastconv import ScheduledConvolver

    ok = _kernels.available() and len(ch.groups) <= 1 and \
        all(isinstance(g.conv, ScheduledConvolver) for g in ch.groups)
    if not ok:
        ch._fast_args = ()
        return None
    if ch.groups:
        g = ch.groups[0]
        conv = (True, g.a, g.b) + g.conv.kernel_args()
    else:
        conv = (False, 0, 0) + _NO_CONV
    iir = ch.iir
    ch._fast_args = (ch.delay.buf, ch.delay.delays, ch.delay._pos, ch._gains1,
                     iir.active, iir.sos_all, iir.sec_ptr, iir.zi_all) + conv + \
        (np.asarray(ch._plain, np.int64),)
    return ch._fast_args


_CHAIN_WARM = [False]


def warm_chain_run() -> None:
    """Compile (or load from numba's cache) :func:`monitor.kernels.chain_run` for whole and
    part blocks, with and without a FIR, before any audio (never in the callback)."""
    if _CHAIN_WARM[0] or not _kernels.available():
        return
    from monitor.chain import Chain

    h = np.zeros(8)
    h[0] = 1.0
    for firs in ([h, None], [None, None]):
        ch = Chain(name="warm", content_hash="warm", fs=48000, n_channels=2, block=2, max_block=4,
                   gains=np.ones(2), delays_s=np.array([0.0, 0.3 / 48000]), sos=[None, None], firs=firs,
                   align_capacity=4)
        for n in (4, 2):              # contiguous blocks, and column slices of the buffers
            x = np.ones((2, 4), np.float32)[:, :n]
            y = np.zeros((2, 4), np.float32)[:, :n]
            chain_process(ch, x, y)
        ch.close()
    _CHAIN_WARM[0] = True


def _match_target(ch) -> float:
    return 10.0 ** (ch.match_db / 20.0)            # monitor.dsp.db_to_gain


def chain_process(ch, x: np.ndarray, out: np.ndarray) -> None:
    """``ch.process(x, out)`` as one compiled call in the steady state (see
    :func:`monitor.kernels.chain_run`); the Python chain otherwise.  Same operations."""
    args = fast_args(ch)
    al = ch.align
    if args is None or al._ramp is not None:
        ch.process(x, out)
        return
    target = _match_target(ch)
    if target != ch._match_now:
        ch.process(x, out)                             # the match gain ramps (Python path)
        return
    n = x.shape[1]
    w = ch._work[:, :n] if ch.groups else out
    p = al.pos
    _kernels.chain_run(x, w, out, *args, np.float32(target), al.buf, p, al.delay if al.capacity else -1)
    if al.capacity:
        al.pos = (p + n) % al.size


def peak(x: np.ndarray, out: np.ndarray) -> None:
    """Per-channel peak magnitude into ``out`` without a full-size temporary."""
    if _kernels.available():
        _kernels.peak_run(x, out)       # one compiled pass (numpy: 3 calls, 2 temporaries)
        return
    hi = x.max(axis=1)
    lo = x.min(axis=1)
    np.maximum(hi, -lo, out=out)


# ------------------------------------------------------------------ the one-call period
class Plan:
    """The table of a steady period (``tab``, int64) and the arrays it points into."""

    __slots__ = ("tab", "keep")

    def __init__(self, tab: np.ndarray, keep: list) -> None:
        self.tab = tab
        self.keep = keep


def _describe(tab: list, keep: list, a: np.ndarray) -> bool:
    """Append ``(address, rows, columns)`` of ``a`` (1-D: columns 0); False if ``a`` is not
    C-contiguous (the kernel views whole arrays)."""
    if not a.flags.c_contiguous or a.ndim > 2:
        return False
    keep.append(a)
    shape = a.shape + (0,) * (2 - a.ndim)
    tab.extend((a.ctypes.data if a.size else 0, shape[0], shape[1]))
    return True


_DTYPES = {"w": np.float32, "dbuf": np.float32, "delays": np.int64, "dpos": np.int64, "gains": np.float32,
           "sos": np.float64, "sptr": np.int64, "zi": np.float64, "xring": np.float32, "acc": np.float32,
           "X": np.complex64, "H": np.complex64, "Y": np.complex64, "sin": np.float32, "sspec": np.complex64,
           "stime": np.float32, "ilv": np.int64, "tasks": np.int64, "tptr": np.int64, "cstate": np.int64,
           "plain": np.int64, "abuf": np.float32, "apos": np.int64, "match": np.float32}
_NDIM = {"w": 2, "dbuf": 2, "sos": 2, "zi": 2, "xring": 2, "acc": 2, "ilv": 2, "tasks": 2, "abuf": 2}


_E_F64 = {"a_hist", "r_hist", "h_hist", "req", "req2", "cs", "st", "prm"}
_E_2D = {"x", "y0", "y1", "y2", "out", "xin", "xd", "fir"}


def _chain_table(ch) -> list | None:
    """The chain's part of the table (header + arrays, kept on the chain: its arrays never
    change), or None when it cannot run in it.  The header's alignment delay and the match
    gain are refreshed here (they change only between steady states)."""
    part = getattr(ch, "_period_part", None)
    if part is None:
        part = ch._period_part = _chain_part(ch) or ()
    if not part:
        return None
    al = ch.align
    part[0][_pk.CH_ADELAY] = int(al.delay) if al.capacity else -1
    part[2][0] = np.float32(_match_target(ch))
    return part


def _chain_part(ch) -> list | None:
    args = fast_args(ch)
    if args is None:
        return None
    (dbuf, delays, dpos, gains, iir, sos, sptr, zi, conv, ga, gb, xring, acc, X, H, Y, sin, sspec, stime,
     ilv, tasks, tptr, cstate, plain) = args
    al = ch.align
    match = np.ones(1, np.float32)
    arrays = {"w": ch._work, "dbuf": dbuf, "delays": delays, "dpos": dpos, "gains": gains, "sos": sos,
              "sptr": sptr, "zi": zi, "xring": xring, "acc": acc, "X": X, "H": H, "Y": Y, "sin": sin,
              "sspec": sspec, "stime": stime, "ilv": ilv, "tasks": tasks, "tptr": tptr, "cstate": cstate,
              "plain": plain, "abuf": al.buf, "apos": al._pos_a, "match": match}
    tab = [int(bool(conv)), int(bool(iir)), int(ga), int(gb), -1]
    keep: list = []
    for name in _pk.CH_ARRAYS:
        a = arrays[name]
        if a.dtype != _DTYPES[name] or a.ndim != _NDIM.get(name, 1) or not _describe(tab, keep, a):
            return None
    return [tab, keep, match]


def steady(engine) -> bool:
    """True when the engine's next periods are all alike (nothing fading, warming or ramping)."""
    if engine._from is not None or engine._warming is not None or engine.routing is not None:
        return False
    lim = engine.limiter
    if not (lim.compiled and (engine.max_block <= lim.jump_block or lim.jump_db <= 0)):
        return False
    for ch in engine._slots:
        if ch is not None and (ch.align._ramp is not None or _match_target(ch) != ch._match_now):
            return False
    return True


def make_plan(engine) -> Plan | None:
    """The table of the engine's steady period (see :mod:`monitor.period_kernel`), or None."""
    if not _pk.available() or not steady(engine):
        return None
    lim = engine.limiter
    from monitor.limiter import DET_FIR

    parts = []
    for k, ch in enumerate(engine._slots):
        if ch is not None:
            part = _chain_table(ch)
            if part is None:
                return None
            parts.append((k, ch, part))
    if engine._slots[engine._active] is None:
        return None
    tab: list = [engine.n_channels, engine.max_block, engine._active, -1, -1, -1]
    keep: list = []
    arrays = {"x": engine._x, "in_peak": engine.in_peak, "out_peak": engine.out_peak, "y0": engine._y[0],
              "y1": engine._y[1], "y2": engine._y[2], "out": engine._out, "xin": lim._xin, "xd": lim._xd,
              "a_hist": lim._a_hist, "r_hist": lim._r_hist, "h_hist": lim._h_hist, "fir": DET_FIR,
              "span": lim._span, "peak": lim._peak, "cacc": lim._cacc, "req": lim._req, "req2": lim._req2,
              "cs": lim._cs, "st": lim._st, "prm": lim._prm}
    for name in _pk.E_ARRAYS:
        a = arrays[name]
        want = np.float64 if name in _E_F64 else np.float32
        if a.dtype != want or a.ndim != (2 if name in _E_2D else 1) or not _describe(tab, keep, a):
            return None
    for k, ch, part in parts:
        tab[_pk.E_OFF0 + k] = len(tab)
        tab.extend(part[0])
        keep.extend(part[1])
        keep.append(ch)
    return Plan(np.asarray(tab, np.int64), keep)
