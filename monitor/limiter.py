"""The output safety stage: sanitiser, level-jump guard, true-peak look-ahead limiter, hard guard.

Order of operations on every block (``(n_channels, n)`` float32)::

    NaN/Inf -> 0 (counted)  ->  level-jump guard (duck on a sudden jump, counted)
      ->  true-peak-aware look-ahead limiter (linked across channels, ceiling -1 dBFS)
      ->  hard guard: clip every sample to the ceiling (the limiter should never need it)

True peak is detected at 8x oversampling (ITU-R BS.1770-5 Annex 2 asks for >= 4x and calls
more preferable) with a 32-tap-per-phase Kaiser-windowed sinc (:func:`detection_fir`, the
interpolator class of the 8x meter in ``mixes.truepeak``), evaluated only around samples
that can reach the ceiling: an interpolated value is at most ``DET_GAIN_MAX`` (the largest L1
norm of a phase) times the largest sample in its 32-sample window, so windows whose samples
all stay below ``ceiling / DET_GAIN_MAX`` are skipped without missing a peak.  Each peak's
required attenuation is held over +-``SPREAD`` samples (the gain is flat across the
interpolator's main lobe), and the limiter aims ``DET_MARGIN_DB`` below the ceiling (the
detector's reading versus the meter's).  :func:`true_peak_dbtp` stays the BS.1770 Annex 2
4x meter (its test vectors).

Verified (tests/test_hostile_truths.py): full-scale squares, steps, noise bursts, Nyquist
patterns and noise through resonant FIRs, rendered in blocks, read at most -1.00 dBTP on the
8x meter with a -1 dBTP ceiling; the hard guard (sample peak) never acts on them.

Gain computation (all in dB, vectorised, identical for blocks and whole files):

    a[m] = max(0, max(TP[m-S .. m+S]) - ceiling)         required attenuation (S = SPREAD)
    r[m] = max(a[m], r[m-1] - rho)                       release at ``release_db_per_s``
         = max_{k<=m}(a[k] + rho k) - rho m             (a running maximum: np.maximum.accumulate)
    h[m] = max(r[m .. m+A-1])                            hold over the look-ahead A
    s[m] = mean(h[m-A+1 .. m])                           attack ramp (box filter)

``s[m] >= r[m] >= a[m]`` for every m, because each of the A terms of the mean is a maximum
over a window that contains m; so the gain ``10^(-s/20)`` always brings the true peak to the
ceiling or below, with a smooth (A-sample) attack and no overshoot.  The audio is delayed
by ``A - 1 + DET_HALF + SPREAD`` samples so the gain arrives in time.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage as _ndi
import scipy.signal as _sig

from calib.errors import ConfigError
from monitor import limkernels as _lk

__all__ = ["Limiter", "TP_FIR", "true_peak_dbtp"]

# ITU-R BS.1770-5 Annex 2 example interpolation filter, 12 taps x 4 phases (columns).
TP_FIR = np.array([
    [0.0017089843750, -0.0291748046875, -0.0189208984375, -0.0083007812500],
    [0.0109863281250, 0.0292968750000, 0.0330810546875, 0.0148925781250],
    [-0.0196533203125, -0.0517578125000, -0.0582275390625, -0.0266113281250],
    [0.0332031250000, 0.0891113281250, 0.1015625000000, 0.0476074218750],
    [-0.0594482421875, -0.1665039062500, -0.2003173828125, -0.1022949218750],
    [0.1373291015625, 0.4650878906250, 0.7797851562500, 0.9721679687500],
    [0.9721679687500, 0.7797851562500, 0.4650878906250, 0.1373291015625],
    [-0.1022949218750, -0.2003173828125, -0.1665039062500, -0.0594482421875],
    [0.0476074218750, 0.1015625000000, 0.0891113281250, 0.0332031250000],
    [-0.0266113281250, -0.0582275390625, -0.0517578125000, -0.0196533203125],
    [0.0148925781250, 0.0330810546875, 0.0292968750000, 0.0109863281250],
    [-0.0083007812500, -0.0189208984375, -0.0291748046875, 0.0017089843750],
])
TP_TAPS = TP_FIR.shape[0]
# y_phi[n] = sum_k TP_FIR[k, phi] x[n-k] interpolates between x[n-6] and x[n-5]; the limiter
# attributes it to sample n - TP_DELAY.
TP_DELAY = 6
# window of output i, oldest sample first: coefficients reversed along the taps
TP_FIR_REV = np.ascontiguousarray(TP_FIR[::-1]).astype(np.float32)
# |y_phi| <= sum_k |c_k,phi| * max|x| over the window: 2.023 (+6.1 dB) for this filter
TP_GAIN_MAX = float(np.abs(TP_FIR).sum(axis=0).max())


def detection_fir(*, oversample: int = 8, half_taps: int = 16, kaiser_beta: float = 8.6) -> np.ndarray:
    """The limiter's true-peak detector: the 7 fractional phases of an 8x Kaiser-windowed sinc.

    Phase ``p`` (column ``p - 1``) gives the band-limited value at ``c + p/8`` from the
    ``2 Q`` samples ``x[c - Q + 1 .. c + Q]`` (row ``k`` weighs ``x[c + k - Q + 1]``):
    ``h_p[k] = sinc(t) w(t)``, ``t = k - Q + 1 - p/8``, with a Kaiser window ``w`` over
    ``|t| <= Q + 1/2`` and unit DC gain per phase.  The sinc's cut-off is the input Nyquist
    frequency, as for the 8x meter of ``mixes.truepeak`` (BS.1770-5 Annex 2 asks for at least
    4x and calls more preferable; the 8x grid under-reads a continuous peak by at most
    ``20 lg cos(pi/16)`` = 0.17 dB at Nyquist).  Phase 0 is the sample itself.

    Returns
    -------
    ndarray, shape (2 Q, oversample - 1), float64
    """
    from scipy.special import i0

    q = np.arange(2 * half_taps) - half_taps + 1
    out = np.zeros((2 * half_taps, oversample - 1))
    for ph in range(1, oversample):
        t = q - ph / oversample
        w = i0(kaiser_beta * np.sqrt(np.clip(1.0 - (t / (half_taps + 0.5)) ** 2, 0.0, None))) / i0(kaiser_beta)
        h = np.sinc(t) * w
        out[:, ph - 1] = h / h.sum()
    return out


# The detector: 8x, 32 taps per phase (the 8x meter's class of interpolator, so a render the
# limiter passed reads at most a few hundredths of a dB over the ceiling on that meter).
DET_HALF = 16
DET_FIR = detection_fir(half_taps=DET_HALF).astype(np.float32)
DET_TAPS = DET_FIR.shape[0]
DET_PHASES = DET_FIR.shape[1]
# |y_p| <= sum_k |h_p[k]| * max|x| over the window: the rigorous bound of the skip test
DET_GAIN_MAX = float(np.abs(DET_FIR.astype(np.float64)).sum(axis=0).max())
# a peak's required attenuation is held over +-SPREAD samples around it: the gain is then flat
# across the interpolator's main lobe, so the limited output's interpolated peak is the input's
# times that gain (an attack ramp inside the lobe would let it through)
SPREAD = 4
# the detector reads the 8x meter within about 0.05 dB (near Nyquist); it limits this much
# below the ceiling so the meter never reads over it
DET_MARGIN_DB = 0.06
_TAP_IDX = np.arange(DET_TAPS)


def true_peak_dbtp(x: np.ndarray) -> float:
    """True peak (dBTP) of ``x`` (``(n_channels, n)`` or 1-D) by BS.1770-5 Annex 2 (4x).

    Returns ``-inf`` for silence.  The sample peak is included, so the result is never
    below it.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    peak = float(np.max(np.abs(x), initial=0.0))
    for phi in range(4):
        y = _sig.lfilter(TP_FIR[:, phi], [1.0], x, axis=-1)
        peak = max(peak, float(np.max(np.abs(y), initial=0.0)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def _state(idx: int, kind):
    """A scalar of the limiter kept in its state array (shared by the numpy and compiled paths)."""
    def get(self):
        return kind(self._st[idx])

    def put(self, value) -> None:
        self._st[idx] = value

    return property(get, put)


class Limiter:
    """Linked true-peak look-ahead limiter with sanitiser, level-jump guard and hard guard.

    Parameters
    ----------
    n_channels : int
    fs : int
        Sample rate (Hz).
    max_block : int
        Most samples per :meth:`process` call.
    ceiling_dbfs : float
        Output ceiling (dBFS true peak), default -1.0 (EBU R128 / STANDARDS.md §0), <= 0.
    lookahead_s : float
        Attack/look-ahead time (s), default 1 ms.
    release_db_per_s : float
        Release rate (dB/s), default 40.
    jump_db : float
        A block whose level exceeds the slow (~1 s) level by more than this (dB) and is above
        ``jump_floor_dbfs`` is a level jump; default 30 dB.
    jump_floor_dbfs : float
        Blocks quieter than this (dBFS RMS) never count as jumps; default -20.
    jump_duck_db : float
        Attenuation applied at a jump (dB), recovering at ``jump_recover_db_per_s``; 0 only
        counts jumps.  Default 20 dB, recovering at 10 dB/s.
    jump_block : int
        Block length (samples) of the jump detector (offline chunks are cut into these).

    Notes
    -----
    Where the compiled engine runs (:func:`monitor.kernels.available`), :meth:`process` is one
    compiled call (:mod:`monitor.limkernels`, same arithmetic; ``compiled = False`` on an
    instance selects the numpy reference).  Scalar state and counters live in one float64
    array shared by both paths.
    """

    _slow_pow = _state(_lk.S_SLOW_POW, float)
    _duck_db = _state(_lk.S_DUCK_DB, float)
    _r_last = _state(_lk.S_R_LAST, float)
    _t = _state(_lk.S_T, int)
    _next_jump_ok = _state(_lk.S_NEXT_JUMP, int)
    _idle = _state(_lk.S_IDLE, bool)
    _a_live = _state(_lk.S_A_LIVE, bool)
    nonfinite_samples = _state(_lk.S_NONFINITE, int)
    jumps = _state(_lk.S_JUMPS, int)
    limited_samples = _state(_lk.S_LIMITED, int)
    clipped_samples = _state(_lk.S_CLIPPED, int)
    gain_reduction_db = _state(_lk.S_GR_DB, float)  # largest attenuation in the last block

    def __init__(self, n_channels: int, *, fs: int, max_block: int, ceiling_dbfs: float = -1.0,
                 lookahead_s: float = 0.001, release_db_per_s: float = 40.0, jump_db: float = 30.0,
                 jump_floor_dbfs: float = -10.0, jump_duck_db: float = 12.0,
                 jump_recover_db_per_s: float = 12.0, jump_block: int = 256) -> None:
        if not (math.isfinite(ceiling_dbfs) and -60.0 <= ceiling_dbfs <= 0.0):
            raise ConfigError(f"limiter ceiling {ceiling_dbfs} dBFS is outside -60..0 dBFS")
        if not (0.0001 <= lookahead_s <= 0.02):
            raise ConfigError(f"look-ahead {lookahead_s} s is outside 0.1..20 ms")
        if not (release_db_per_s > 0 and jump_recover_db_per_s > 0 and jump_duck_db >= 0):
            raise ConfigError("release and recovery rates must be > 0 dB/s and the jump duck >= 0 dB")
        self._st = np.zeros(_lk.N_STATE, dtype=np.float64)   # scalar state (see _state)
        self.compiled = _lk.available()
        self.n_channels = int(n_channels)
        self.fs = int(fs)
        self.max_block = int(max_block)
        self.ceiling_dbfs = float(ceiling_dbfs)
        self.ceiling = np.float32(10.0 ** (ceiling_dbfs / 20.0))
        self._aim_dbfs = self.ceiling_dbfs - DET_MARGIN_DB      # what the detector limits to
        self._aim = np.float32(10.0 ** (self._aim_dbfs / 20.0))
        self.A = max(2, int(round(lookahead_s * fs)))
        self.delay_samples = self.A - 1 + DET_HALF + SPREAD
        self.rho = release_db_per_s / fs
        self.jump_db = float(jump_db)
        self.jump_floor_dbfs = float(jump_floor_dbfs)
        self.jump_duck_db = float(jump_duck_db)
        self.jump_block = int(jump_block)
        self.jump_rho = jump_recover_db_per_s * self.jump_block / fs
        # after a jump, no new one is counted until the duck has recovered (at least 0.5 s)
        self._refractory = int(max(jump_duck_db / jump_recover_db_per_s, 0.5) * fs)
        self._next_jump_ok = 0
        self._t = 0
        # slow level: one-pole on block power, time constant 1 s
        self.slow_coef = math.exp(-self.jump_block / fs / 1.0)
        C, A, D, N = self.n_channels, self.A, self.delay_samples, self.max_block
        K = DET_TAPS - 1
        self._xin = np.zeros((C, K + N), dtype=np.float32)             # interpolator history
        self._xd = np.zeros((C, D + N), dtype=np.float32)              # delayed audio
        self._r_hist = np.zeros(A - 1 + N, dtype=np.float64)           # release output
        self._h_hist = np.zeros(A - 1 + N, dtype=np.float64)           # hold output
        self._peak = np.zeros(N, dtype=np.float32)
        self._req = np.zeros(N, dtype=np.float64)
        self._acc = np.zeros((C, N, DET_PHASES), dtype=np.float32)   # the 7 phases at once
        self._tbuf = np.zeros((C, N, DET_PHASES), dtype=np.float32)
        self._cmax = np.zeros((C, N), dtype=np.float32)
        self._span = np.zeros(K + N, dtype=np.float32)
        self._span2 = np.zeros(K + N, dtype=np.float32)
        self._thr = self._aim / np.float32(DET_GAIN_MAX)
        self._a_hist = np.zeros(2 * SPREAD + N, dtype=np.float64)     # raw attenuation, spread
        self._a_live = False                                           # history holds some
        self._req2 = np.zeros(N, dtype=np.float64)
        self._hold = np.zeros(A - 1 + N, dtype=np.float64)
        self._sq = np.zeros((C, N), dtype=np.float32)
        self._r_last = 0.0
        self._idle = True
        self._slow_db = -120.0
        self._slow_pow = 1e-12
        self._duck_db = 0.0
        self._jump_pending = np.zeros(0)
        self._partial = 0  # samples of the current jump block seen so far (offline tail)
        # counters (read by the UI thread)
        self.nonfinite_samples = 0
        self.jumps = 0
        self.limited_samples = 0
        self.clipped_samples = 0
        self.gain_reduction_db = 0.0  # largest attenuation in the last block
        # the compiled path's parameters and scratch
        prm = np.zeros(_lk.N_PARAM, dtype=np.float64)
        prm[_lk.P_CEIL] = self.ceiling
        prm[_lk.P_AIM] = self._aim
        prm[_lk.P_AIM_DBFS] = self._aim_dbfs
        prm[_lk.P_THR] = self._thr
        prm[_lk.P_A] = A
        prm[_lk.P_D] = D
        prm[_lk.P_RHO] = self.rho
        prm[_lk.P_JUMP_DB] = self.jump_db
        prm[_lk.P_JUMP_FLOOR] = self.jump_floor_dbfs
        prm[_lk.P_JUMP_DUCK] = self.jump_duck_db
        prm[_lk.P_JUMP_BLOCK] = self.jump_block
        prm[_lk.P_JUMP_RHO] = self.jump_rho
        prm[_lk.P_REFRACTORY] = self._refractory
        prm[_lk.P_SLOW_COEF] = self.slow_coef
        prm[_lk.P_HALF] = DET_HALF
        prm[_lk.P_SPREAD] = SPREAD
        # bit patterns of the positive float32 thresholds (the kernel compares |x| bit patterns)
        prm[_lk.P_THR_BITS] = int(np.float32(self._thr).view(np.uint32))
        prm[_lk.P_CEIL_BITS] = int(np.float32(self.ceiling).view(np.uint32))
        self._prm = prm
        self._cacc = np.zeros(N, dtype=np.float32)
        self._cs = np.zeros(A - 1 + N, dtype=np.float64)

    @property
    def latency_samples(self) -> int:
        return self.delay_samples

    def reset(self) -> None:
        self._xin.fill(0.0)
        self._xd.fill(0.0)
        self._r_hist.fill(0.0)
        self._h_hist.fill(0.0)
        self._r_last = 0.0
        self._idle = True
        self._duck_db = 0.0
        self._slow_pow = 1e-12
        self._a_hist.fill(0.0)
        self._a_live = False

    # -------------------------------------------------------------- stages
    def _sanitise(self, x: np.ndarray) -> None:
        if self.compiled:
            nb = _lk.sanitise_run(x)            # one compiled pass (numpy: errstate + sum)
            if nb:
                self.nonfinite_samples += nb
            return
        # a NaN or Inf anywhere makes the sum non-finite; a float32 sum of finite samples may
        # overflow too (absurd levels), which only costs the exact check below
        with np.errstate(invalid="ignore", over="ignore"):
            total = float(np.sum(x))
        if not math.isfinite(total):
            bad = ~np.isfinite(x)
            nb = int(np.count_nonzero(bad))
            if nb:
                self.nonfinite_samples += nb
                x[bad] = 0.0
            # a finite block may overflow the float64 sum only if absurdly large: clip below

    def _jump_guard(self, x: np.ndarray) -> None:
        """Duck the block on a sudden level jump (block-wise, vectorised over sub-blocks)."""
        n = x.shape[1]
        B = self.jump_block
        nbk = max(1, -(-n // B))
        if nbk == 1:
            self._jump_one(x)
            return
        # per sub-block mean power over channels (a partial last sub-block counts as one)
        pw = np.empty(nbk)
        C = x.shape[0]
        full = n // B
        if full:
            xr = x[:, : full * B].reshape(C, full, B)
            pw[:full] = np.einsum("cjb,cjb->j", xr, xr, dtype=np.float64) / (C * B)
        if full < nbk:
            rest = x[:, full * B:]
            pw[full:] = float(np.einsum("cb,cb->", rest, rest, dtype=np.float64)) / rest.size
        # slow level before each sub-block: one-pole over previous sub-block powers
        a = self.slow_coef
        slow, zf = _sig.lfilter([1 - a], [1, -a], pw, zi=[a * self._slow_pow])
        prev = np.empty(nbk)
        prev[0] = self._slow_pow
        prev[1:] = slow[:-1]
        self._slow_pow = float(slow[-1])
        fast_db = 10 * np.log10(pw + 1e-12)
        prev_db = 10 * np.log10(prev + 1e-12)
        ev = (fast_db - prev_db > self.jump_db) & (fast_db > self.jump_floor_dbfs)
        # one event per burst: a jump opens a refractory period (the duck's recovery time)
        for j in np.flatnonzero(ev):
            tj = self._t + int(j) * B
            if tj >= self._next_jump_ok:
                self._next_jump_ok = tj + self._refractory
            else:
                ev[j] = False
        self._t += n
        nev = int(np.count_nonzero(ev))
        if nev:
            self.jumps += nev
        if self.jump_duck_db <= 0 or (not nev and self._duck_db <= 0):
            return
        # duck[j] = max(D ev[j], duck[j-1] - rho_b), as a running maximum (see module doc)
        j = np.arange(nbk, dtype=np.float64)
        rho = self.jump_rho
        cand = np.where(ev, self.jump_duck_db, -np.inf) + rho * j
        run = np.maximum.accumulate(cand) - rho * j
        duck = np.maximum(run, self._duck_db - rho * (j + 1))
        np.maximum(duck, 0.0, out=duck)
        # per-sample gain: ramp from the previous value across each sub-block (click-free),
        # but a jump block takes the full duck at once (the burst is what must not pass)
        start = np.empty(nbk)
        start[0] = self._duck_db
        start[1:] = duck[:-1]
        start = np.where(ev, duck, start)
        self._duck_db = float(duck[-1])
        if full:
            t = (np.arange(B) + 1.0) / B
            g = start[:full, None] + (duck[:full] - start[:full])[:, None] * t[None, :]
            gl = np.power(10.0, -g.reshape(-1) / 20.0).astype(np.float32)
            x[:, : full * B] *= gl
        if full < nbk:
            m = n - full * B
            t = (np.arange(m) + 1.0) / m
            g = start[-1] + (duck[-1] - start[-1]) * t
            x[:, full * B:] *= np.power(10.0, -g / 20.0).astype(np.float32)

    def _jump_one(self, x: np.ndarray) -> None:
        """The jump guard for one block (the real-time case), in scalar arithmetic."""
        n = x.shape[1]
        sq = self._sq[:, :n]
        np.square(x, out=sq)
        pw = float(sq.sum(dtype=np.float64)) / sq.size
        prev = self._slow_pow
        a = self.slow_coef ** (n / self.jump_block)
        self._slow_pow = a * prev + (1 - a) * pw
        fast_db = 10 * math.log10(pw + 1e-12)
        ev = (fast_db - 10 * math.log10(prev + 1e-12) > self.jump_db and fast_db > self.jump_floor_dbfs
              and self._t >= self._next_jump_ok)
        self._t += n
        if ev:
            self.jumps += 1
            self._next_jump_ok = self._t - n + self._refractory
        if self.jump_duck_db <= 0 or (not ev and self._duck_db <= 0):
            return
        start = self._duck_db
        end = max(self.jump_duck_db if ev else 0.0, start - self.jump_rho * n / self.jump_block, 0.0)
        if ev:
            start = end
        self._duck_db = end
        if start == end:
            x *= np.float32(10 ** (-end / 20))
        else:
            g = np.linspace(10 ** (-start / 20), 10 ** (-end / 20), n + 1, dtype=np.float32)[1:]
            x *= g

    def _required_db(self, n: int) -> np.ndarray | None:
        """Attenuation a[m] (dB, >= 0) for the n samples m = (new index) - DET_HALF - SPREAD:
        the detector's requirement held over +-SPREAD samples (None: nothing to limit)."""
        raw = self._raw_required_db(n)
        S2 = 2 * SPREAD
        h = self._a_hist
        if raw is None:
            if not self._a_live:
                return None
            h[S2:S2 + n] = 0.0
        else:
            h[S2:S2 + n] = raw
        req = self._req2[:n]
        np.copyto(req, h[:n])
        for k in range(1, S2 + 1):                      # running max over 2 SPREAD + 1 samples
            np.maximum(req, h[k:k + n], out=req)
        h[:S2] = h[n:n + S2].copy() if n < S2 else h[n:n + S2]
        self._a_live = bool(h[:S2].any())
        return req if float(req.max(initial=0.0)) > 0.0 else None

    def _raw_required_db(self, n: int) -> np.ndarray | None:
        """Attenuation (dB, >= 0) each of the n newest windows asks for, attributed to the
        window's centre sample m = (new index) - DET_HALF (None: nothing near the ceiling)."""
        xin = self._xin
        K = DET_TAPS - 1
        peak = self._peak[:n]
        # quiet block (the common case): no sample within reach of the ceiling, checked with
        # two read-only reductions before building the linked |x| below
        win = xin[:, :K + n]
        if float(win.max()) <= self._thr and float(win.min()) >= -self._thr:
            return None
        # |x| linked over channels for the history and the new samples
        span = self._span[:K + n]
        if xin.shape[0] == 1:
            np.abs(xin[0, :K + n], out=span)
        else:
            np.abs(xin[0, :K + n], out=span)
            tmp = self._span2[:K + n]
            for c in range(1, xin.shape[0]):
                np.abs(xin[c, :K + n], out=tmp)
                np.maximum(span, tmp, out=span)
        # sample peak of the window's centre x[m], m = new sample index i - DET_HALF
        peak[:] = span[DET_HALF - 1:DET_HALF - 1 + n]
        # interpolated output i uses xin[i .. i+K]; it can exceed the aim only if one of
        # those samples exceeds aim / DET_GAIN_MAX (DET_GAIN_MAX = largest phase L1 norm)
        if float(span.max()) <= self._thr:
            return None
        loud = span > self._thr
        n_loud = int(np.count_nonzero(loud))
        if n_loud:
            if n <= 4096 or n_loud > n // 8:   # interpolate everything
                self._interp_peak(lambda k: xin[:, k:k + n], self._acc[:, :n], self._tbuf[:, :n],
                                  self._cmax[:, :n], peak)
            else:           # mostly quiet file chunks: only where a loud sample is within reach
                cs = np.cumsum(loud, dtype=np.int64)
                hits = cs[K:K + n].copy()
                hits[1:] -= cs[: n - 1]
                idx = np.flatnonzero(hits)
                if idx.size:
                    m = idx.size
                    sub = peak[idx]
                    # gather the taps of every window once: (C, DET_TAPS, m), row k = tap k
                    g = xin[:, idx[None, :] + _TAP_IDX[:, None]]
                    self._interp_peak(lambda k: g[:, k], self._acc[:, :m], self._tbuf[:, :m],
                                      self._cmax[:, :m], sub)
                    peak[idx] = sub
        if float(peak.max(initial=0.0)) <= self._aim:
            return None
        req = self._req[:n]
        np.maximum(peak, 1e-30, out=peak)
        np.log10(peak, out=req)
        req *= 20.0
        req -= self._aim_dbfs
        np.maximum(req, 0.0, out=req)
        return req

    @staticmethod
    def _interp_peak(taps, acc: np.ndarray, tmp: np.ndarray, cmax: np.ndarray, peak: np.ndarray) -> None:
        """``peak = max(peak, |y_p|)`` over the 7 fractional phases and the channels.

        ``taps(k)`` gives the ``(C, m)`` samples at tap ``k`` of the ``m`` windows; ``acc`` and
        ``tmp`` are ``(C, m, 7)`` work arrays, ``cmax`` ``(C, m)``.  All phases advance together:
        DET_TAPS float32 multiply-adds over whole arrays in a fixed order, so the full-block and
        the sparse (gathered) evaluation give identical values for the same window, and no
        temporary array is made (the real-time contract).
        """
        np.multiply(taps(0)[:, :, None], DET_FIR[0], out=acc)
        for k in range(1, DET_TAPS):
            np.multiply(taps(k)[:, :, None], DET_FIR[k], out=tmp)
            np.add(acc, tmp, out=acc)
        np.abs(acc, out=acc)
        np.max(acc, axis=2, out=cmax)
        for c in range(cmax.shape[0]):
            np.maximum(peak, cmax[c], out=peak)

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Make ``x`` safe (modified in place) and write the limited, delayed signal to ``out``.

        Parameters
        ----------
        x : ndarray (n_channels, n), float32, may contain NaN/Inf
        out : ndarray (n_channels, n), float32
        """
        n = x.shape[1]
        if self.compiled:
            # one compiled call; sanitiser and jump guard inside it unless the block spans
            # several jump blocks (offline chunks: their vectorised numpy guard runs first)
            pre = n <= self.jump_block or self.jump_db <= 0
            if not pre:
                self._sanitise(x)
                self._jump_guard(x)
            _lk.limiter_run(x, out, pre, self._xin, self._xd, self._a_hist, self._r_hist, self._h_hist,
                            DET_FIR, self._span, self._peak, self._cacc, self._req, self._req2, self._cs,
                            self._st, self._prm)
            return out
        A, D, K = self.A, self.delay_samples, DET_TAPS - 1
        self._sanitise(x)
        if self.jump_db > 0:
            self._jump_guard(x)
        self._xin[:, K:K + n] = x
        req = self._required_db(n)
        xd = self._xd
        xd[:, D:D + n] = self._xin[:, K:K + n]
        if req is None and self._idle:
            # nothing to limit and no gain reduction pending: the gain is exactly 1
            np.copyto(out, xd[:, :n])
            self.gain_reduction_db = 0.0
        else:
            self._gain(req, n, out)
        # hard guard
        c = self.ceiling
        if float(out.max(initial=0.0)) > c or float(out.min(initial=0.0)) < -c:
            over = np.abs(out) > c
            self.clipped_samples += int(np.count_nonzero(over))
            np.clip(out, -c, c, out=out)
        # shift histories (copies where source and target overlap)
        xd[:, :D] = xd[:, n:n + D].copy() if n < D else xd[:, n:n + D]
        self._xin[:, :K] = self._xin[:, n:n + K].copy() if n < K else self._xin[:, n:n + K]
        return out

    def _gain(self, req, n: int, out: np.ndarray) -> None:
        A, D = self.A, self.delay_samples
        if req is None:
            req = self._req[:n]
            req.fill(0.0)
        # release: r[i] = max(r_prev - rho (i+1), max_{k<=i}(a[k] + rho k) - rho i)
        i = np.arange(n, dtype=np.float64)
        rho = self.rho
        run = np.maximum.accumulate(req + rho * i) - rho * i
        r = self._r_hist
        np.maximum(run, self._r_last - rho * (i + 1), out=r[A - 1:A - 1 + n])
        self._r_last = float(r[A - 2 + n])
        # hold: h[j] = max(r[j .. j+A-1]) over the history window
        h = self._h_hist
        seq = r[: A - 1 + n]
        # with origin = -(A//2) the window of output j is seq[j .. j+A-1] (windows used are inside)
        hold = self._hold[: A - 1 + n]
        _ndi.maximum_filter1d(seq, size=A, output=hold, mode="nearest", origin=-(A // 2))
        h[A - 1:A - 1 + n] = hold[:n]
        # attack: s[j] = mean(h[j-A+1 .. j])
        cs = np.cumsum(h[: A - 1 + n])
        s = np.empty(n)
        s[0] = cs[A - 1]
        s[1:] = cs[A:A - 1 + n] - cs[: n - 1]
        s /= A
        self.gain_reduction_db = float(s.max(initial=0.0))
        if self.gain_reduction_db > 1e-3:
            self.limited_samples += int(np.count_nonzero(s > 1e-3))
        # 10^(-s/20) only where s > 0 (music limits a few percent of the samples); elsewhere
        # the gain is exactly 1, so the delayed audio passes unchanged
        np.copyto(out, self._xd[:, :n])
        nz = np.flatnonzero(s)
        if nz.size:
            lo, hi = int(nz[0]), int(nz[-1]) + 1
            gain = np.power(10.0, -s[lo:hi] / 20.0).astype(np.float32)
            np.multiply(out[:, lo:hi], gain, out=out[:, lo:hi])
        r[: A - 1] = r[n:n + A - 1].copy() if n < A - 1 else r[n:n + A - 1]
        h[: A - 1] = h[n:n + A - 1].copy() if n < A - 1 else h[n:n + A - 1]
        self._idle = self._r_last == 0.0 and not h[: A - 1].any()
