"""Small DSP blocks of the monitor chain: gains, sub-sample delay, biquad cascades, K-weighting.

Every class keeps its state in arrays allocated in ``__init__`` and processes blocks of
``(n_channels, n)`` float32 in place or into a caller's buffer, so the same object serves
the real-time callback (small blocks) and offline rendering (large chunks) with identical
arithmetic: a filter run over a file in one call equals the same filter run block by block.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal as _sig

from calib.errors import ConfigError
from monitor import kernels as _kernels

__all__ = [
    "db_to_gain",
    "thiran_allpass",
    "split_delay",
    "FRACTIONAL_LATENCY_SAMPLES",
    "THIRAN_ORDER",
    "DelayLine",
    "AlignmentDelay",
    "SosCascade",
    "k_weighting_sos",
]

THIRAN_ORDER = 3
# Every chain adds this many samples so that any fractional delay can be realised by a
# Thiran all-pass with N - 1 < d < N + 0.05 and a non-negative integer remainder; all chains
# share it, so relative timing between chains is exact.  In that range the group delay of
# order 3 stays within 0.02 sample of d up to 0.2 fs (tests/test_monitor_dsp.py).
FRACTIONAL_LATENCY_SAMPLES = THIRAN_ORDER


def db_to_gain(level_db: float) -> float:
    """Amplitude ratio of a level in dB: ``10**(level_db/20)``."""
    return 10.0 ** (level_db / 20.0)


def thiran_allpass(delay_samples: float, *, order: int = THIRAN_ORDER) -> tuple[np.ndarray, np.ndarray]:
    """Thiran all-pass fractional delay (maximally flat group delay at DC).

    ``a_k = (-1)^k C(N,k) prod_{n=0}^{N} (D - N + n) / (D - N + k + n)``, ``k = 0..N``,
    ``H(z) = z^-N A(1/z) / A(z)`` (Thiran 1971; Laakso, Valimaki, Karjalainen & Laine,
    "Splitting the unit delay", IEEE SP Magazine 13(1) 1996, eq. 86).

    Parameters
    ----------
    delay_samples : float
        Total delay ``D`` (samples); stable for ``D > N - 1``.
    order : int
        ``N``.

    Returns
    -------
    b, a : ndarray
        Numerator (``a`` reversed) and denominator, ``a[0] == 1``.
    """
    N = int(order)
    D = float(delay_samples)
    if not D > N - 1:
        raise ConfigError(f"Thiran delay {D} samples must exceed order - 1 = {N - 1}")
    a = np.ones(N + 1)
    for k in range(1, N + 1):
        prod = 1.0
        for n in range(N + 1):
            prod *= (D - N + n) / (D - N + k + n)
        a[k] = (-1) ** k * math.comb(N, k) * prod
    return a[::-1].copy(), a


def split_delay(delay_samples: float, *, order: int = THIRAN_ORDER) -> tuple[int, float | None]:
    """Split ``delay_samples + FRACTIONAL_LATENCY_SAMPLES`` into integer and Thiran parts.

    Returns ``(integer_samples, thiran_delay or None)``; ``None`` when the delay is a whole
    number of samples (within 1e-6 sample), so no all-pass is needed.
    """
    total = float(delay_samples) + FRACTIONAL_LATENCY_SAMPLES
    whole = math.floor(total)
    frac = total - whole
    if frac < 1e-6 or frac > 1 - 1e-6:
        return int(round(total)), None
    # N-1 < d < N: flattest group delay; near d = N-1 a pole nears the unit circle, so a
    # fraction under 0.05 is realised as N + frac instead (still accurate, poles < 0.2)
    d = order - 1 + frac if frac >= 0.05 else order + frac
    return int(round(total - d)), d


def _ring_write(buf: np.ndarray, pos: int, x: np.ndarray) -> None:
    """Write ``x`` (``(n_channels, n)``, ``n`` <= ring size) into the ring ``buf`` from ``pos``, wrapping."""
    n = x.shape[1]
    first = min(n, buf.shape[1] - pos)
    buf[:, pos:pos + first] = x[:, :first]
    if first < n:
        buf[:, : n - first] = x[:, first:]


class DelayLine:
    """Per-channel integer delay (ring buffer), any block length up to ``max_block``.

    With the compiled engine (:mod:`monitor.kernels`) one call moves all channels; the numpy
    path is the same copies.  An optional per-channel gain is applied on the way in (the
    chain's trim, polarity and preamp: ``x * g`` rounded to float32 as numpy does).

    Parameters
    ----------
    delays_samples : sequence of int
        Delay per channel (samples, >= 0).
    max_block : int
        Most samples per call.
    """

    def __init__(self, delays_samples, *, max_block: int) -> None:
        d = np.asarray(delays_samples, dtype=np.int64)
        if d.ndim != 1 or np.any(d < 0):
            raise ConfigError(f"delays must be non-negative whole samples, got {d.tolist()}")
        self.delays = d
        self.n_channels = d.size
        self.size = int(d.max(initial=0)) + int(max_block)
        self.buf = np.zeros((self.n_channels, self.size), dtype=np.float32)
        self.buf.fill(0.0)           # touch every page now, not in the callback
        self._pos = np.zeros(1, np.int64)
        self._ones = np.ones(self.n_channels, np.float32)
        self._compiled = _kernels.available()
        if self._compiled:
            _kernels.warm_up()

    @property
    def pos(self) -> int:
        """Write position in the ring (samples)."""
        return int(self._pos[0])

    def reset(self) -> None:
        self.buf.fill(0.0)
        self._pos[0] = 0

    def process(self, x: np.ndarray, out: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
        """Write ``x * gains`` (``(n_channels, n)``; ``gains`` ``(n_channels,)`` float32,
        default 1) and read the delayed samples into ``out`` (may be ``x``)."""
        g = self._ones if gains is None else gains
        if self._compiled:
            _kernels.delay_run(x, out, self.buf, self.delays, self._pos, g)
            return out
        n = x.shape[1]
        S = self.size
        p = int(self._pos[0])
        _ring_write(self.buf, p, x * g[:, np.newaxis] if gains is not None else x)
        for c in range(self.n_channels):
            r = (p - int(self.delays[c])) % S
            f2 = min(n, S - r)
            out[c, :f2] = self.buf[c, r:r + f2]
            if f2 < n:
                out[c, f2:n] = self.buf[c, : n - f2]
        self._pos[0] = (p + n) % S
        return out


class AlignmentDelay:
    """Whole-sample delay common to all channels whose length can change while it runs.

    The engine pads each chain with it so that all chains share one total bulk latency (see
    :class:`monitor.engine.Engine`).  Every input sample is kept in a ring of
    ``capacity_samples + max_block`` samples, so the delay can be moved to any length up to
    ``capacity_samples`` at a block boundary without losing history:

    * :meth:`set` with ``ramp=None`` moves the read position at once (for a chain that is
      not on the air: its output is at once the steady output at the new delay, provided it
      has run for ``delay`` samples; before that the ring holds zeros, i.e. silence before
      the start);
    * :meth:`set` with a ramp ``w`` (rising 0 -> 1 over ``F`` samples) crossfades from the
      old read position to the new one: ``y[n] = x[n - d_old] + w[k] (x[n - d_new] -
      x[n - d_old])``, ``k`` counting from the next block, then ``y[n] = x[n - d_new]``.
      A chain on the air changes its delay this way, without a step.

    All state is allocated in ``__init__``; :meth:`process` allocates nothing beyond numpy's
    small temporaries.

    Parameters
    ----------
    n_channels : int
    capacity_samples : int
        Longest delay (samples, >= 0).  Memory: ``4 n_channels (capacity + 2 max_block)``
        bytes; with 0 nothing is kept and :meth:`process` returns its input untouched.
    max_block : int
        Most samples per :meth:`process` call.
    """

    def __init__(self, n_channels: int, *, capacity_samples: int, max_block: int) -> None:
        if int(capacity_samples) < 0:
            raise ConfigError(f"alignment capacity must be >= 0 samples, got {capacity_samples}")
        self.n_channels = int(n_channels)
        self.capacity = int(capacity_samples)
        self.size = self.capacity + int(max_block)
        scratch = int(max_block) if self.capacity else 0
        self.buf = np.zeros((self.n_channels, self.size if self.capacity else 0), dtype=np.float32)
        self._old = np.zeros((self.n_channels, scratch), dtype=np.float32)
        self.delay = 0            # samples (the target while fading)
        self._from = 0            # delay being faded out
        self._ramp: np.ndarray | None = None
        self._fade_pos = 0
        self._pos_a = np.zeros(1, np.int64)   # write position, kept in an array (the one-call period writes it)

    @property
    def pos(self) -> int:
        """Write position in the ring (samples)."""
        return int(self._pos_a[0])

    @pos.setter
    def pos(self, value: int) -> None:
        self._pos_a[0] = value

    @property
    def fading(self) -> bool:
        """True while a delay change is being crossfaded."""
        return self._ramp is not None

    def reset(self) -> None:
        self.buf.fill(0.0)
        self.pos = 0
        self._ramp = None
        self._from = self.delay

    def set(self, delay_samples: int, *, ramp: np.ndarray | None = None) -> None:
        """Move the delay to ``delay_samples`` (at once, or crossfaded over ``ramp``).

        Parameters
        ----------
        delay_samples : int
            New delay (samples), ``0..capacity``.
        ramp : ndarray (F,) float32, optional
            Crossfade weights of the new position, rising to 1 (kept by reference: pass a
            preallocated array).  Ignored when the delay does not change.

        Raises
        ------
        ConfigError
            ``delay_samples`` outside ``0..capacity``.
        """
        d = int(delay_samples)
        if not 0 <= d <= self.capacity:
            raise ConfigError(f"alignment delay {d} samples is outside 0..{self.capacity}")
        if ramp is None:
            self._ramp = None          # at once (also ends a fade in progress)
            self._from = self.delay = d
        elif d != self.delay:
            # a fade in progress restarts from its target (callers wait for :attr:`fading`)
            self._from = self.delay
            self.delay = d
            self._ramp = ramp
            self._fade_pos = 0

    def _read(self, d: int, p: int, out: np.ndarray) -> None:
        n = out.shape[1]
        S = self.size
        r = (p - d) % S
        f = min(n, S - r)
        out[:, :f] = self.buf[:, r:r + f]
        if f < n:
            out[:, f:] = self.buf[:, : n - f]

    def process(self, x: np.ndarray) -> np.ndarray:
        """Delay ``x`` (``(n_channels, n)`` float32, ``n <= max_block``) in place."""
        if not self.capacity:
            return x                   # nothing to pad (e.g. one profile rendered offline)
        n = x.shape[1]
        S = self.size
        p = self.pos
        ramp = self._ramp
        if ramp is None and _kernels.available():
            _kernels.ring_delay_run(x, self.buf, p, self.delay)   # the same copies, one call
            self.pos = (p + n) % S
            return x
        _ring_write(self.buf, p, x)
        self.pos = (p + n) % S
        if ramp is None:
            if self.delay:
                self._read(self.delay, p, x)
            return x
        old = self._old[:, :n]
        self._read(self._from, p, old)
        self._read(self.delay, p, x)
        k = self._fade_pos
        m = min(n, ramp.size - k)
        # y = old + w (new - old)
        x[:, :m] -= old[:, :m]
        x[:, :m] *= ramp[k:k + m]
        x[:, :m] += old[:, :m]
        self._fade_pos = k + m
        if self._fade_pos >= ramp.size:
            self._ramp = None
            self._from = self.delay
        return x


class SosCascade:
    """One IIR cascade per channel (second-order sections), state kept in float64.

    Parameters
    ----------
    sos_per_channel : sequence of ndarray (n_sections, 6) or None
        ``None`` (or an empty array) leaves that channel untouched.

    Notes
    -----
    ``scipy.signal.sosfilt`` runs the sections in direct form II transposed in float64; the
    state ``zi`` is carried between calls, so block-wise and one-shot filtering agree to the
    last bit.  Biquads at low frequency need float64 state: in float32 a 20 Hz peak at
    48 kHz has coefficient errors of ~1e-7 relative to poles ~1e-3 from the unit circle.
    """

    def __init__(self, sos_per_channel) -> None:
        self.sos = []
        self.zi = []
        ptr = [0]
        for sos in sos_per_channel:
            if sos is None or len(sos) == 0:
                self.sos.append(None)
                ptr.append(ptr[-1])
                continue
            s = np.atleast_2d(np.asarray(sos, dtype=np.float64))
            if s.shape[1] != 6 or not np.all(np.isfinite(s)):
                raise ConfigError("second-order sections must be finite (n, 6) arrays")
            self.sos.append(s)
            ptr.append(ptr[-1] + s.shape[0])
        # all sections and states in one array each (the compiled cascade, kernels.sos_run);
        # self.zi[c] is a view of channel c's rows
        self.sos_all = np.zeros((max(ptr[-1], 1), 6), dtype=np.float64)
        self.zi_all = np.zeros((max(ptr[-1], 1), 2), dtype=np.float64)
        self.sec_ptr = np.asarray(ptr, dtype=np.int64)
        for c, s in enumerate(self.sos):
            if s is None:
                self.zi.append(None)
                continue
            self.sos_all[ptr[c]:ptr[c + 1]] = s
            self.zi.append(self.zi_all[ptr[c]:ptr[c + 1]])
        self.active = any(s is not None for s in self.sos)

    def reset(self) -> None:
        for z in self.zi:
            if z is not None:
                z.fill(0.0)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (``(n_channels, n)`` float32) in place."""
        for c, s in enumerate(self.sos):
            if s is None:
                continue
            y, zf = _sig.sosfilt(s, x[c], zi=self.zi[c])
            if np.isfinite(zf).all():
                self.zi[c][...] = zf
                x[c] = y
            else:  # unstable or poisoned state: silence this block, restart the filter
                self.zi[c].fill(0.0)
                x[c] = 0.0
        return x


def k_weighting_sos(*, fs: int) -> np.ndarray:
    """BS.1770-5 K-weighting (shelf + RLB high-pass) as SOS at ``fs`` (STANDARDS.md §5.1).

    Redesigned from the analogue prototype; at 48 kHz it reproduces the table of the Rec.
    """
    K = math.tan(math.pi * 1681.974450955533 / fs)
    Vh = 10 ** (3.999843853973347 / 20)
    Vb = Vh ** 0.4996667741545416
    Q = 0.7071752369554196
    a0 = 1 + K / Q + K * K
    s1 = [(Vh + Vb * K / Q + K * K) / a0, 2 * (K * K - Vh) / a0, (Vh - Vb * K / Q + K * K) / a0,
          1.0, 2 * (K * K - 1) / a0, (1 - K / Q + K * K) / a0]
    K = math.tan(math.pi * 38.13547087602444 / fs)
    Q = 0.5003270373238773
    a0 = 1 + K / Q + K * K
    s2 = [1.0, -2.0, 1.0, 1.0, 2 * (K * K - 1) / a0, (1 - K / Q + K * K) / a0]
    return np.array([s1, s2])
