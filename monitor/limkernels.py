"""Compiled safety stage: the :class:`monitor.limiter.Limiter` block in one numba call.

Why (measured, ``roomtruth monitor bench``, 16 ch x 65,536 taps at 128): the numpy limiter
cost 30-40 us of interpreter per period (a dozen small numpy calls for the sanitiser, the
jump guard, the true-peak pre-check, the history copies and the hard guard), the numpy input
sanitiser another 5-10 us: at 2 channels more than the whole convolution.  Here the same
arithmetic runs in one compiled call per block.

The arithmetic is the numpy limiter's, operation for operation and in the same precision
(float32 interpolation with the taps accumulated in the same order, float64 gain computer,
``np.linspace``'s formula for the jump guard's ramp), so the output equals the numpy path bit
for bit except where numpy's own SIMD ``log10``/``power`` and libm's differ in the last place
(then by about -150 dB; tested <= -120 dB in ``tests/test_limiter_compiled.py``).  One design
difference that cannot change the output: windows of the true-peak detector with no sample
above ``aim / DET_GAIN_MAX`` within reach are not interpolated (the numpy path skips them only
in long offline chunks): their interpolated value cannot reach the aim, so they never ask for
attenuation.

State lives in the limiter's arrays; the scalars in one float64 array ``st`` (indices ``S_*``
below; integers up to 2**53 are exact), the parameters in ``prm`` (``P_*``).
"""

from __future__ import annotations

import numpy as np

from monitor import kernels as _kernels

__all__ = ["S_SLOW_POW", "S_DUCK_DB", "S_R_LAST", "S_T", "S_NEXT_JUMP", "S_IDLE", "S_A_LIVE",
           "S_NONFINITE", "S_JUMPS", "S_LIMITED", "S_CLIPPED", "S_GR_DB", "N_STATE", "N_PARAM",
           "limiter_run", "sanitise_run", "warm_up"]

# scalar state (float64 array)
S_SLOW_POW, S_DUCK_DB, S_R_LAST, S_T, S_NEXT_JUMP, S_IDLE, S_A_LIVE = range(7)
S_NONFINITE, S_JUMPS, S_LIMITED, S_CLIPPED, S_GR_DB = range(7, 12)
N_STATE = 12
# parameters (float64 array)
(P_CEIL, P_AIM, P_AIM_DBFS, P_THR, P_A, P_D, P_RHO, P_JUMP_DB, P_JUMP_FLOOR, P_JUMP_DUCK,
 P_JUMP_BLOCK, P_JUMP_RHO, P_REFRACTORY, P_SLOW_COEF, P_HALF, P_SPREAD, P_THR_BITS, P_CEIL_BITS) = range(18)
N_PARAM = 18

try:
    import numba as _nb
except Exception:  # noqa: BLE001 - no numba: the numpy limiter runs
    _nb = None


if _nb is not None:
    _jit = _nb.njit(cache=True, nogil=True, boundscheck=False)

    from numba import types as _types
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def _p_f32(typingctx, addr):
        """``(float *) addr``: a typed pointer from an address (cacheable)."""
        ptr_t = _types.CPointer(_types.float32)
        sig = ptr_t(_types.int64)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(ptr_t))

        return sig, codegen

    # reductions LLVM may vectorise: "reassoc" lets it reorder a sum (only a NaN test and the
    # jump guard's block power use it)
    _jit_sum = _nb.njit(cache=True, nogil=True, boundscheck=False, fastmath={"reassoc"})

    @_jit_sum
    def _has_nonfinite(x):  # pragma: no cover - compiled
        """True when ``x`` holds a NaN or an Inf (``v - v`` is 0 for every finite ``v``)."""
        C, n = x.shape
        acc = np.float32(0.0)
        for c in range(C):
            for i in range(n):
                acc += x[c, i] - x[c, i]
        return acc != acc

    @_jit_sum
    def _power(x):  # pragma: no cover - compiled
        """Sum of the float32 squares of ``x``, in float64 (the jump guard's block power)."""
        C, n = x.shape
        acc = 0.0
        for c in range(C):
            for i in range(n):
                v = x[c, i]
                acc += np.float64(v * v)
        return acc

    @_jit
    def _absmax_bits(x, m):  # pragma: no cover - compiled
        """Bit pattern of the largest ``|x[c, i]|``, ``i < m`` (finite float32 data): for
        non-negative floats the order of the bit patterns (sign cleared) is the order of the
        values, and an integer maximum vectorises (3x faster than the float loop here)."""
        out = np.uint32(0)
        for c in range(x.shape[0]):
            row = x[c].view(np.uint32)
            for i in range(m):
                v = row[i] & np.uint32(0x7fffffff)
                if v > out:
                    out = v
        return out

    @_jit
    def sanitise_run(x):  # pragma: no cover - compiled
        """Replace NaN/Inf in ``x`` ``(C, n)`` float32 by 0 in place; how many there were."""
        C, n = x.shape
        nb = 0
        if _absmax_bits(x, n) < np.uint32(0x7f800000):   # no NaN/Inf (exponent all ones)
            return 0
        for c in range(C):
            for i in range(n):
                if not np.isfinite(x[c, i]):
                    x[c, i] = 0.0
                    nb += 1
        return nb

    @_jit
    def _jump_one(x, st, prm):  # pragma: no cover - compiled
        """``Limiter._jump_one``: the block's level against the slow level; duck on a jump."""
        C, n = x.shape
        pw = _power(x) / (C * n)                        # float32 squares summed in float64
        jblock = prm[P_JUMP_BLOCK]
        prev = st[S_SLOW_POW]
        a = prm[P_SLOW_COEF] ** (n / jblock)
        st[S_SLOW_POW] = a * prev + (1 - a) * pw
        fast_db = 10 * np.log10(pw + 1e-12)
        t = st[S_T]
        ev = (fast_db - 10 * np.log10(prev + 1e-12) > prm[P_JUMP_DB] and fast_db > prm[P_JUMP_FLOOR]
              and t >= st[S_NEXT_JUMP])
        t += n
        st[S_T] = t
        if ev:
            st[S_JUMPS] += 1
            st[S_NEXT_JUMP] = t - n + prm[P_REFRACTORY]
        jduck = prm[P_JUMP_DUCK]
        duck = st[S_DUCK_DB]
        if jduck <= 0 or (not ev and duck <= 0):
            return
        start = duck
        end = max(max(jduck if ev else 0.0, start - prm[P_JUMP_RHO] * n / jblock), 0.0)
        if ev:
            start = end
        st[S_DUCK_DB] = end
        if start == end:
            g = np.float32(10.0 ** (-end / 20))
            for c in range(C):
                for i in range(n):
                    x[c, i] *= g
        else:
            # np.linspace(g0, g1, n + 1, dtype=float32)[1:]: i * step + g0, the last one g1
            g0 = 10.0 ** (-start / 20)
            g1 = 10.0 ** (-end / 20)
            step = (g1 - g0) / n
            for i in range(n):
                gi = np.float32(g1) if i == n - 1 else np.float32((i + 1) * step + g0)
                for c in range(C):
                    x[c, i] *= gi

    @_jit
    def _raw_required(xin, n, fir, span, peak, accp, raw, prm, flag, tight):  # pragma: no cover - compiled
        """``Limiter._raw_required_db``: fills ``raw[:n]``; False when nothing is near the ceiling.

        ``flag`` (float64, >= n) is scratch.  ``tight`` (needs ``raw.shape[0] > K``): windows
        whose oversampled values provably stay under the aim are not interpolated.  The bound:
        every interpolated value of window ``w`` (any channel, any phase ``p``) is
        ``|sum_k f[k, p] x[w + k]| <= sum_k g_k span[w + k]`` with ``g_k = max_p |f[k, p]|`` and
        ``span`` the channel-linked ``|x|``; the float32 accumulation adds at most
        ``32 * 2**-24`` of that sum.  A window is skipped when that bound and its centre sample
        are both under ``aim * (1 - 1e-4)``: then, interpolated or not, its peak stays under the
        aim by more than float32 ``log10``'s error, so its required attenuation is exactly 0
        either way and the output is the same bit for bit (tested against ``tight=False``).
        Windows with no sample above ``aim / DET_GAIN_MAX`` within reach are skipped as before.
        """
        C = xin.shape[0]
        K = fir.shape[0] - 1
        NP = fir.shape[1]
        half = int(prm[P_HALF])
        thr = np.float32(prm[P_THR])
        aim = np.float32(prm[P_AIM])
        if _absmax_bits(xin, K + n) <= np.uint32(prm[P_THR_BITS]):   # quiet: nothing near the aim
            return False
        # |x| linked over channels, and each window's sample peak (its centre)
        for i in range(K + n):
            span[i] = abs(xin[0, i])
        for c in range(1, C):
            for i in range(K + n):
                v = abs(xin[c, i])
                if v > span[i]:
                    span[i] = v
        for i in range(n):
            peak[i] = span[half - 1 + i]
        # which windows to interpolate: a loud sample within reach (window i covers
        # span[i .. i + K]) and, when tight, a bound or a centre not provably under the aim
        tight = tight and raw.shape[0] > K
        if tight:
            for k in range(K + 1):
                g = 0.0
                for p in range(NP):
                    a = abs(np.float64(fir[k, p]))
                    if a > g:
                        g = a
                raw[k] = g
            for w in range(n):
                flag[w] = 0.0
            for k in range(K + 1):
                gk = raw[k]
                for w in range(n):
                    flag[w] += gk * np.float64(span[w + k])
        aim_lo = np.float64(aim) * (1.0 - 1e-4)
        ll = -1                         # last loud sample seen
        j = 0
        any_w = False
        for i in range(n):
            while j <= i + K:
                if span[j] > thr:
                    ll = j
                j += 1
            want = ll >= i
            if want and tight:
                want = flag[i] > aim_lo or np.float64(peak[i]) > aim_lo
            flag[i] = 1.0 if want else 0.0
            any_w = any_w or want
        # runs of windows to interpolate (all 7 phases, taps accumulated in order 0..K in
        # float32, as the numpy path)
        i = 0
        while any_w and i < n:
            if flag[i] == 0.0:
                i += 1
                continue
            lo = i
            hi = i + 1
            while hi < n and flag[hi] != 0.0:
                hi += 1
            for c in range(C):
                for p in range(NP):
                    f0 = fir[0, p]
                    for w in range(lo, hi):
                        accp[w] = xin[c, w] * f0
                    for k in range(1, K + 1):
                        fk = fir[k, p]
                        for w in range(lo, hi):
                            accp[w] = accp[w] + xin[c, w + k] * fk
                    for w in range(lo, hi):
                        v = abs(accp[w])
                        if v > peak[w]:
                            peak[w] = v
            i = hi
        pmax = np.float32(0.0)
        for i in range(n):
            if peak[i] > pmax:
                pmax = peak[i]
        if pmax <= aim:
            return False
        tiny = np.float32(1e-30)
        aim_dbfs = prm[P_AIM_DBFS]
        for i in range(n):
            v = peak[i] if peak[i] > tiny else tiny
            r = np.float64(np.log10(v)) * 20.0 - aim_dbfs      # float32 log10, as numpy's loop
            raw[i] = r if r > 0.0 else 0.0
        return True

    @_jit
    def limiter_run(x, out, pre, xin, xd, a_hist, r_hist, h_hist, fir, span, peak, accp, raw, req, cs, st, prm):  # pragma: no cover - compiled
        """One :meth:`Limiter.process` block: ``x`` ``(C, n)`` made safe in place (``pre``:
        sanitise and the one-block jump guard here, else done by the caller), ``out`` the
        limited, delayed signal.  Arrays are the limiter's state and scratch."""
        C, n = x.shape
        K = fir.shape[0] - 1
        A = int(prm[P_A])
        D = int(prm[P_D])
        S2 = 2 * int(prm[P_SPREAD])
        rho = prm[P_RHO]
        if pre:
            st[S_NONFINITE] += sanitise_run(x)
            if prm[P_JUMP_DB] > 0:
                # one sum order wherever the block lies the same way in memory (contiguous rows
                # of n: the whole-buffer one-call period and the staged period alike), whatever
                # array type the caller has: a contiguous view vectorises the power sum
                if x.strides[1] == 4 and (C == 1 or x.strides[0] == 4 * n):
                    _jump_one(_nb.carray(_p_f32(np.int64(x.ctypes.data)), (C, n)), st, prm)
                else:
                    _jump_one(x[:, :n], st, prm)
        for c in range(C):
            for i in range(n):
                xin[c, K + i] = x[c, i]
        # required attenuation, held over +-SPREAD (Limiter._required_db)
        have_raw = _raw_required(xin, n, fir, span, peak, accp, raw, prm, req, True)
        have_req = False
        if have_raw or st[S_A_LIVE] != 0.0:
            for i in range(n):
                a_hist[S2 + i] = raw[i] if have_raw else 0.0
            rmax = 0.0
            for i in range(n):
                m = a_hist[i]
                for k in range(1, S2 + 1):
                    if a_hist[i + k] > m:
                        m = a_hist[i + k]
                req[i] = m
                if m > rmax:
                    rmax = m
            live = False
            for k in range(S2):
                a_hist[k] = a_hist[n + k]
                if a_hist[k] != 0.0:
                    live = True
            st[S_A_LIVE] = 1.0 if live else 0.0
            have_req = rmax > 0.0
        for c in range(C):
            for i in range(n):
                xd[c, D + i] = xin[c, K + i]
        if not have_req and st[S_IDLE] != 0.0:
            for c in range(C):
                for i in range(n):
                    out[c, i] = xd[c, i]
            st[S_GR_DB] = 0.0
        else:
            # release, hold, attack (Limiter._gain)
            r_last = st[S_R_LAST]
            runmax = -np.inf
            for i in range(n):
                cand = (req[i] if have_req else 0.0) + rho * i
                if cand > runmax:
                    runmax = cand
                run = runmax - rho * i
                alt = r_last - rho * (i + 1)
                r_hist[A - 1 + i] = run if run >= alt else alt
            r_last = r_hist[A - 2 + n]
            st[S_R_LAST] = r_last
            for j in range(n):
                m = r_hist[j]
                for k in range(j + 1, j + A):
                    if r_hist[k] > m:
                        m = r_hist[k]
                h_hist[A - 1 + j] = m
            tot = 0.0
            for k in range(A - 1 + n):
                tot += h_hist[k]
                cs[k] = tot
            gr = 0.0
            lo = -1
            hi = -1
            for j in range(n):
                v = cs[A - 1] if j == 0 else cs[A - 1 + j] - cs[j - 1]
                v /= A
                req[j] = v                          # req now holds s
                if v > gr:
                    gr = v
                if v != 0.0:
                    if lo < 0:
                        lo = j
                    hi = j + 1
            st[S_GR_DB] = gr
            if gr > 1e-3:
                cnt = 0
                for j in range(n):
                    if req[j] > 1e-3:
                        cnt += 1
                st[S_LIMITED] += cnt
            for c in range(C):
                for i in range(n):
                    out[c, i] = xd[c, i]
            if lo >= 0:
                for j in range(lo, hi):
                    g = np.float32(10.0 ** (-req[j] / 20.0))
                    for c in range(C):
                        out[c, j] = out[c, j] * g
            for k in range(A - 1):
                r_hist[k] = r_hist[n + k]
                h_hist[k] = h_hist[n + k]
            idle = r_last == 0.0
            if idle:
                for k in range(A - 1):
                    if h_hist[k] != 0.0:
                        idle = False
                        break
            st[S_IDLE] = 1.0 if idle else 0.0
        # hard guard: the sample peak never above the ceiling
        ceil = np.float32(prm[P_CEIL])
        if _absmax_bits(out, n) > np.uint32(prm[P_CEIL_BITS]):
            over = 0
            for c in range(C):
                for i in range(n):
                    v = out[c, i]
                    if v > ceil:
                        out[c, i] = ceil
                        over += 1
                    elif v < -ceil:
                        out[c, i] = -ceil
                        over += 1
            st[S_CLIPPED] += over
        for c in range(C):
            for k in range(D):
                xd[c, k] = xd[c, n + k]
            for k in range(K):
                xin[c, k] = xin[c, n + k]
else:  # pragma: no cover
    limiter_run = sanitise_run = None


_WARM = [False]


def available() -> bool:
    """The compiled limiter runs where the compiled engine runs (numba, not disabled)."""
    return _nb is not None and _kernels.available()


def warm_up() -> None:
    """Compile (or load from numba's cache) the limiter kernels for every memory layout the
    engine and the renderer hand them (contiguous blocks and column slices of wider buffers)."""
    if _WARM[0] or not available():
        return
    from monitor.limiter import Limiter

    lim = Limiter(2, fs=48000, max_block=64)
    for x in (np.ones((2, 4), np.float32), np.ones((2, 6), np.float32)[:, :4]):
        for y in (np.zeros((2, 4), np.float32), np.zeros((2, 6), np.float32)[:, :4]):
            sanitise_run(x)
            lim.process(x.copy() if x.flags.c_contiguous else x, y)
            lim.process(x * np.float32(4.0), y)       # loud: the detector and the gain computer
    _WARM[0] = True
