"""Programme loudness per ITU-R BS.1770-5 and EBU Tech 3341/3342.

K-weighting is designed for any sample rate from the analog prototype (STANDARDS.md §5.1): a
high-frequency shelf (the head) followed by the RLB high-pass, both bilinear-transformed with
pre-warping.  At 48 kHz this reproduces the coefficient table of BS.1770-5, Table 1 and 2.

Loudness is built from *sub-block energies*: the K-weighted, channel-weighted sum of squares
over 10 ms sub-blocks (edges at ``round(k * fs / 100)``).  Every window the standards need is a
whole number of sub-blocks:

* momentary (EBU Tech 3341): 400 ms rectangular, evaluated every 10 ms (a file meter must read
  max M of a 400 ms burst starting at any 20 ms offset within 0.1 LU, Tech 3341 case 13);
* short-term: 3 s rectangular, evaluated every 10 ms (max S) and every 100 ms (for LRA);
* gating blocks of the integrated loudness (BS.1770-5 eq. 4-6): 400 ms, 75 % overlap.

The meter is streaming (:class:`LoudnessMeter`): feed chunks, read the figures at the end; so a
long file is filtered chunk by chunk in cache with the filter state carried across.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from calib.errors import SignalError
from mixes.programme import as_programme

__all__ = [
    "K_SHELF_F0_HZ",
    "K_HP_F0_HZ",
    "LOUDNESS_OFFSET_DB",
    "k_weighting_sos",
    "default_channel_weights",
    "LoudnessMeter",
    "LoudnessResult",
    "loudness",
    "integrated_from_block_energies",
    "loudness_range_lu",
]

# Analog prototype of the K-weighting (STANDARDS.md §5.1; reproduces BS.1770-5 Table 1/2 at 48 kHz).
K_SHELF_F0_HZ = 1681.974450955533
K_SHELF_GAIN_DB = 3.999843853973347
K_SHELF_Q = 0.7071752369554196
K_SHELF_VB_EXP = 0.4996667741545416
K_HP_F0_HZ = 38.13547087602444
K_HP_Q = 0.5003270373238773

LOUDNESS_OFFSET_DB = -0.691          # BS.1770-5 eq. 2: cancels the K gain at 997 Hz
ABSOLUTE_GATE_LUFS = -70.0           # BS.1770-5 eq. 5 (Gamma_a)
RELATIVE_GATE_LU = -10.0             # BS.1770-5 eq. 6 (Gamma_r)
LRA_RELATIVE_GATE_LU = -20.0         # EBU Tech 3342
LRA_LOW_PERCENTILE = 10.0            # EBU Tech 3342
LRA_HIGH_PERCENTILE = 95.0           # EBU Tech 3342

SUB_BLOCKS_PER_S = 100               # 10 ms sub-blocks
MOMENTARY_SUB = 40                   # 400 ms
SHORT_TERM_SUB = 300                 # 3 s
GATING_HOP_SUB = 10                  # 100 ms hop (75 % overlap of 400 ms)
LRA_TAIL_SILENCE_SUB = 150           # 1.5 s of silence appended for LRA (Tech 3342 file meters)


def k_weighting_sos(*, fs: int) -> np.ndarray:
    """Second-order sections of the BS.1770 K-weighting filter at sample rate ``fs``.

    Parameters
    ----------
    fs : int
        Sample rate (Hz), keyword-only.

    Returns
    -------
    sos : ndarray, shape (2, 6), float64
        Stage 1 the head shelf, stage 2 the RLB high-pass, ``a0 = 1``.

    Notes
    -----
    Bilinear transform with pre-warping ``K = tan(pi f0 / fs)`` of the analog prototypes in
    STANDARDS.md §5.1; at 48 kHz this equals BS.1770-5 Tables 1 and 2.
    """
    fs = _check_fs(fs)
    # Stage 1: high shelf.
    k = math.tan(math.pi * K_SHELF_F0_HZ / fs)
    vh = 10.0 ** (K_SHELF_GAIN_DB / 20.0)
    vb = vh ** K_SHELF_VB_EXP
    a0 = 1.0 + k / K_SHELF_Q + k * k
    b_shelf = [(vh + vb * k / K_SHELF_Q + k * k) / a0,
               2.0 * (k * k - vh) / a0,
               (vh - vb * k / K_SHELF_Q + k * k) / a0]
    a_shelf = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / K_SHELF_Q + k * k) / a0]
    # Stage 2: RLB high-pass (numerator fixed at [1, -2, 1] as in the Recommendation).
    k = math.tan(math.pi * K_HP_F0_HZ / fs)
    a0 = 1.0 + k / K_HP_Q + k * k
    b_hp = [1.0, -2.0, 1.0]
    a_hp = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / K_HP_Q + k * k) / a0]
    return np.array([b_shelf + a_shelf, b_hp + a_hp], dtype=np.float64)


def default_channel_weights(n_channels: int) -> np.ndarray:
    """BS.1770-5 channel weights G_i for the usual layouts.

    1 or 2 channels: 1.0 each.  5 channels (L, R, C, Ls, Rs): 1, 1, 1, 1.41, 1.41.
    6 channels (L, R, C, LFE, Ls, Rs, SMPTE order): LFE excluded (0), surrounds 1.41.

    Raises
    ------
    SignalError
        Any other channel count: pass the weights explicitly.
    """
    if n_channels in (1, 2):
        return np.ones(n_channels)
    if n_channels == 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    if n_channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    raise SignalError(
        f"no default BS.1770 channel weights for {n_channels} channels; "
        "expected 1, 2, 5 (L R C Ls Rs) or 6 (L R C LFE Ls Rs); export the mix as stereo (or 5.0/5.1) "
        "and measure that, or pass channel_weights from Python"
    )


def _check_fs(fs: int) -> int:
    if isinstance(fs, bool) or int(fs) != fs or not (8000 <= int(fs) <= 768_000):
        raise SignalError(f"sample rate {fs!r} Hz is outside 8000..768000 Hz (BS.1770 K-weighting)")
    return int(fs)


def _to_lufs(mean_square: np.ndarray) -> np.ndarray:
    """BS.1770-5 eq. 2: L = -0.691 + 10 lg(sum_i G_i z_i); -inf for zero energy."""
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET_DB + 10.0 * np.log10(np.asarray(mean_square, dtype=np.float64))


def _window_sums(energy: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``width`` consecutive entries (direct sums: silence stays exactly zero)."""
    if energy.size < width:
        return np.zeros(0)
    if width <= 64:
        c = np.lib.stride_tricks.sliding_window_view(energy, width)
        return c.sum(axis=-1)
    return np.convolve(energy, np.ones(width), mode="valid")


def integrated_from_block_energies(block_ms: np.ndarray) -> float:
    """Gated integrated loudness from 400 ms block mean squares (BS.1770-5 eq. 4-7).

    Parameters
    ----------
    block_ms : ndarray, shape (n_blocks,)
        Channel-weighted mean square ``sum_i G_i z_ij`` of each gating block.

    Returns
    -------
    float
        Integrated loudness (LUFS); ``-inf`` when no block passes the gates.
    """
    block_ms = np.asarray(block_ms, dtype=np.float64)
    if block_ms.size == 0:
        return -math.inf
    lj = _to_lufs(block_ms)
    abs_kept = block_ms[lj > ABSOLUTE_GATE_LUFS]
    if abs_kept.size == 0:
        return -math.inf
    gamma_r = float(_to_lufs(abs_kept.mean())) + RELATIVE_GATE_LU
    kept = block_ms[(lj > ABSOLUTE_GATE_LUFS) & (lj > gamma_r)]
    if kept.size == 0:  # pragma: no cover - the loudest block always passes its own relative gate
        return -math.inf
    return float(_to_lufs(kept.mean()))


def _nearest_rank(sorted_values: np.ndarray, percent: float) -> float:
    """Tech 3342 nearest rank: idx = round((n-1) p/100 + 1), 1-based (round half up)."""
    n = sorted_values.size
    idx = int(math.floor((n - 1) * percent / 100.0 + 1.0 + 0.5))
    return float(sorted_values[min(max(idx, 1), n) - 1])


def loudness_range_lu(short_term_lufs: np.ndarray) -> float:
    """Loudness range (LU) from short-term loudness values, EBU Tech 3342 (2023).

    Parameters
    ----------
    short_term_lufs : ndarray
        3 s short-term loudness, sampled at >= 10 Hz (LUFS).

    Returns
    -------
    float
        ``P95 - P10`` of the values passing the -70 LUFS absolute and the -20 LU relative
        gate (nearest-rank percentiles); 0.0 when fewer than two values pass.
    """
    st = np.asarray(short_term_lufs, dtype=np.float64)
    st = st[np.isfinite(st) & (st >= ABSOLUTE_GATE_LUFS)]
    if st.size == 0:
        return 0.0
    rel = float(10.0 * np.log10(np.mean(10.0 ** (st / 10.0)))) + LRA_RELATIVE_GATE_LU
    kept = np.sort(st[st >= rel])
    if kept.size < 2:
        return 0.0
    return _nearest_rank(kept, LRA_HIGH_PERCENTILE) - _nearest_rank(kept, LRA_LOW_PERCENTILE)


@dataclass(frozen=True)
class LoudnessResult:
    """Loudness figures of one programme.

    Attributes
    ----------
    integrated_lufs : float
        Gated integrated loudness (BS.1770-5), ``-inf`` if nothing passes the gates.
    momentary_max_lufs, short_term_max_lufs : float
        Maximum of the 400 ms / 3 s ungated loudness evaluated every 10 ms (``-inf`` if the
        programme is shorter than the window).
    lra_lu : float
        Loudness range (EBU Tech 3342).
    momentary_lufs, short_term_lufs : ndarray
        Time series at 10 ms hop; value ``i`` is the window ending at
        ``momentary_end_s[i]`` / ``short_term_end_s[i]``.
    """

    integrated_lufs: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    lra_lu: float
    momentary_lufs: np.ndarray
    momentary_end_s: np.ndarray
    short_term_lufs: np.ndarray
    short_term_end_s: np.ndarray


class LoudnessMeter:
    """Streaming BS.1770-5 / EBU Mode meter (file meter: figures read after the last chunk).

    Parameters
    ----------
    fs : int
        Sample rate (Hz), keyword-only.
    n_channels : int
    channel_weights : sequence of float, optional
        G_i per channel; default :func:`default_channel_weights`.

    Examples
    --------
    >>> m = LoudnessMeter(fs=48000, n_channels=2)
    >>> m.feed(chunk)          # (n_channels, n) float32/float64, any chunk lengths
    >>> res = m.result()
    """

    def __init__(self, *, fs: int, n_channels: int, channel_weights=None) -> None:
        self.fs = _check_fs(fs)
        if n_channels < 1:
            raise SignalError(f"a programme needs at least one channel, got {n_channels}")
        self.n_channels = int(n_channels)
        w = default_channel_weights(n_channels) if channel_weights is None else np.asarray(
            channel_weights, dtype=np.float64)
        if w.shape != (self.n_channels,) or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise SignalError(
                f"channel weights {list(np.atleast_1d(w))} do not fit {n_channels} channels; "
                "expected one non-negative weight per channel"
            )
        self.weights = w
        self._sos64 = k_weighting_sos(fs=self.fs)
        self._zi = None
        self._n_done = 0            # samples consumed
        self._next_k = 1            # index of the next sub-block edge to close
        self._pending = 0.0         # energy of the open sub-block
        self._energies: list[np.ndarray] = []

    def _edge(self, k: np.ndarray | int):
        # sub-block edge k in samples: round(k fs / 100), exact in integer arithmetic
        return (np.asarray(k, dtype=np.int64) * self.fs * 2 + SUB_BLOCKS_PER_S) // (2 * SUB_BLOCKS_PER_S)

    def feed(self, chunk: np.ndarray) -> None:
        """Consume the next samples, shape ``(n_channels, n)``; float32 is filtered in float32."""
        x = np.asarray(chunk)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise SignalError(
                f"chunk shape {x.shape} does not match {self.n_channels} channels; "
                "expected (n_channels, n_samples)"
            )
        if x.shape[1] == 0:
            return
        dtype = np.float32 if x.dtype == np.float32 else np.float64
        sos = self._sos64.astype(dtype)
        if self._zi is None:
            self._zi = np.zeros((2, self.n_channels, 2), dtype=dtype)
        y, self._zi = signal.sosfilt(sos, x.astype(dtype, copy=False), axis=-1, zi=self._zi.astype(dtype))
        start = self._n_done
        stop = start + y.shape[1]
        # edges that close inside this chunk
        k_last = int((stop * SUB_BLOCKS_PER_S) // self.fs) + 1
        ks = np.arange(self._next_k, k_last + 1)
        edges = self._edge(ks) if ks.size else np.zeros(0, dtype=np.int64)
        edges = edges[edges <= stop]
        if edges.size == 0:
            self._pending += float(self.weights @ np.einsum("ij,ij->i", y, y, dtype=np.float64))
        else:
            local = edges - start
            sums = self._sub_sums(y, local)
            sums[0] += self._pending
            self._energies.append(sums)
            tail = y[:, local[-1]:]
            self._pending = float(self.weights @ np.einsum("ij,ij->i", tail, tail, dtype=np.float64))
            self._next_k += edges.size
        self._n_done = stop

    def _sub_sums(self, y: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Weighted sums of squares of y over [0, local[0]), [local[0], local[1]), ..."""
        bounds = np.concatenate(([0], local))
        lengths = np.diff(bounds)
        first = int(lengths[0])
        out = np.empty(local.size)
        head = y[:, :first]
        out[0] = self.weights @ np.einsum("ij,ij->i", head, head, dtype=np.float64)
        if local.size == 1:
            return out
        rest_len = lengths[1:]
        sub = int(rest_len[0])
        if np.all(rest_len == sub):
            # equal sub-blocks (fs a multiple of 100 Hz): one reshape, no running sums
            body = y[:, first: first + sub * rest_len.size].reshape(y.shape[0], rest_len.size, sub)
            e = np.einsum("ijk,ijk->ij", body, body)          # float32 pairs summed per 10 ms
            out[1:] = self.weights @ e.astype(np.float64)
            return out
        # fractional sub-blocks (e.g. 22.05 kHz: 220/221 samples): running sums, float64
        sq = self.weights @ (y[:, first: local[-1]].astype(np.float64) ** 2)
        c = np.concatenate(([0.0], np.cumsum(sq)))
        rel = bounds[1:] - first
        out[1:] = np.maximum(c[rel[1:]] - c[rel[:-1]], 0.0)
        return out

    def sub_block_energies(self) -> tuple[np.ndarray, np.ndarray]:
        """Energies (weighted sums of squares) and sample counts of the closed 10 ms sub-blocks."""
        e = np.concatenate(self._energies) if self._energies else np.zeros(0)
        k = np.arange(e.size + 1)
        lengths = np.diff(self._edge(k))
        return e, lengths

    def result(self) -> LoudnessResult:
        """Integrated, momentary, short-term and LRA figures of everything fed so far."""
        e, lengths = self.sub_block_energies()
        m_e = _window_sums(e, MOMENTARY_SUB)
        m_n = _window_sums(lengths.astype(np.float64), MOMENTARY_SUB)
        s_e = _window_sums(e, SHORT_TERM_SUB)
        s_n = _window_sums(lengths.astype(np.float64), SHORT_TERM_SUB)
        momentary = _to_lufs(m_e / np.maximum(m_n, 1.0)) if m_e.size else np.zeros(0)
        short_all = _to_lufs(s_e / np.maximum(s_n, 1.0)) if s_e.size else np.zeros(0)
        blocks = (m_e / np.maximum(m_n, 1.0))[::GATING_HOP_SUB] if m_e.size else np.zeros(0)
        integrated = integrated_from_block_energies(blocks)
        # LRA: Tech 3342 file meters append >= 1.5 s of silence so the programme's last
        # seconds enter the short-term series; sampled at 10 Hz
        pad = LRA_TAIL_SILENCE_SUB
        e_pad = np.concatenate([e, np.zeros(pad)])
        n_pad = np.concatenate([lengths, np.full(pad, self.fs / SUB_BLOCKS_PER_S)]).astype(np.float64)
        s_pad = _window_sums(e_pad, SHORT_TERM_SUB) / np.maximum(_window_sums(n_pad, SHORT_TERM_SUB), 1.0)
        lra = loudness_range_lu(_to_lufs(s_pad[::GATING_HOP_SUB])) if s_pad.size else 0.0
        m_end = (np.arange(momentary.size) + MOMENTARY_SUB) / SUB_BLOCKS_PER_S
        s_end = (np.arange(short_all.size) + SHORT_TERM_SUB) / SUB_BLOCKS_PER_S
        return LoudnessResult(
            integrated_lufs=integrated,
            momentary_max_lufs=float(momentary.max()) if momentary.size else -math.inf,
            short_term_max_lufs=float(short_all.max()) if short_all.size else -math.inf,
            lra_lu=float(lra),
            momentary_lufs=momentary,
            momentary_end_s=m_end,
            short_term_lufs=short_all,
            short_term_end_s=s_end,
        )


def loudness(x: np.ndarray, *, fs: int, channel_weights=None, chunk_s: float = 10.0) -> LoudnessResult:
    """BS.1770-5 loudness of a whole programme.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples) or (n_samples,)
        Programme, full scale 1.0.
    fs : int
        Sample rate (Hz), keyword-only.
    channel_weights : sequence of float, optional
        G_i per channel (BS.1770-5 Table 3); default by channel count.

    Returns
    -------
    LoudnessResult

    Raises
    ------
    SignalError
        Bad shape, NaN/Inf samples, unsupported sample rate or channel count.
    """
    arr = as_programme(x)
    meter = LoudnessMeter(fs=fs, n_channels=arr.shape[0], channel_weights=channel_weights)
    step = max(int(chunk_s * fs), 1)
    for i in range(0, arr.shape[1], step):
        meter.feed(arr[:, i:i + step])
    return meter.result()
