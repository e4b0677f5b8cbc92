"""Dynamics of a mix: peak-to-loudness ratio, loudness range per section, crest factor per band.

* **PLR** (peak-to-loudness ratio) = true peak (dBTP) - integrated loudness (LUFS), in dB
  (METHODS.md §1; the "PLR" of AES TD1004 / the loudness-war literature).  A mix limited hard
  has a small PLR; "more compressed than your references by 4 dB PLR" is the difference.
* **Sections** are found on the 3 s short-term loudness (EBU Tech 3341) sampled once a second:
  the curve is split into segments of nearly constant level by optimal partitioning (a dynamic
  programme minimising the squared deviation from each segment's mean plus a penalty per
  segment, ``SECTION_PENALTY_LU2``; segments at least ``SECTION_MIN_S`` long).  A verse and a
  louder chorus, a quiet bridge, come out as sections.  Per section: the loudness range
  (EBU Tech 3342 LRA of the short-term values inside it) and its loudness (energy mean of the
  short-term values).
* **Crest factor per octave band** (63 Hz .. 8 kHz): peak / rms of the band-limited signal, in
  dB (the channel with the highest peak, against its own rms).  Computed on Hann frames (~85 ms, 50 % overlap): the band's bins give the analytic band
  signal of the frame at a reduced rate (an inverse FFT of just those bins, shifted to base
  band, 2x oversampled); its magnitude divided by the window in the central half of the frame
  (where the Hann window is >= 0.5, so every sample is covered once) is the band's envelope,
  whose maximum (refined by a parabola) is the peak; the rms comes from the band's power
  (Parseval).  A sine reads 3.01 dB.  Frames are capped at ``MAX_FRAMES`` per file (about 3 min
  at 48 kHz): a longer file is read in excerpts spread evenly over it, and its peak is the
  largest in the excerpts (a lower bound of the file's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.fft

from calib.errors import SignalError
from mixes._blas import single_threaded_blas
from mixes.loudness import loudness, loudness_range_lu, SUB_BLOCKS_PER_S, SHORT_TERM_SUB
from mixes.programme import as_programme

__all__ = ["Dynamics", "Section", "measure_dynamics", "compare_dynamics", "OCTAVE_CENTRES_HZ"]

OCTAVE_CENTRES_HZ = (63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
FRAME_S = 0.0853                # 4096 samples at 48 kHz: 11.7 Hz bins, the 63 Hz octave gets 4
MAX_FRAMES = 4096
ENVELOPE_OVERSAMPLING = 2       # samples of the band envelope per bin of band width (x parabola)
RUN_FRAMES = 64
SECTION_STEP_S = 1.0            # the short-term curve is sampled once a second for sections
SECTION_MIN_S = 8.0
SECTION_PENALTY_LU2 = 12.0      # per section: a 1.5 LU step between two 12 s halves gains 13.5 LU^2 s
SHORT_TERM_FLOOR_LUFS = -70.0   # silence enters the partition at the absolute gate


def _num(v: float | None, nd: int = 2) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), nd)


@dataclass(frozen=True)
class Section:
    """One stretch of nearly constant loudness.

    Attributes
    ----------
    start_s, end_s : float
    short_term_range_lu : float
        EBU Tech 3342 loudness range of the short-term values inside the section (LU).
    loudness_lufs : float
        Energy mean of the short-term loudness inside the section (LUFS).
    """

    start_s: float
    end_s: float
    short_term_range_lu: float
    loudness_lufs: float

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2),
                "short_term_range_lu": _num(self.short_term_range_lu),
                "loudness_lufs": _num(self.loudness_lufs)}


@dataclass(frozen=True)
class Dynamics:
    """Dynamics figures of one mix.

    Attributes
    ----------
    plr_db : float
        True peak minus integrated loudness (dB).
    bands_hz : tuple of float
        Octave band centres.
    crest_db : tuple of float
        Peak / rms of each band (dB); NaN for a silent band.
    sections : tuple of Section
    analysed_s : float
        Programme duration over which the crest factors were measured (s).
    """

    plr_db: float
    bands_hz: tuple[float, ...]
    crest_db: tuple[float, ...]
    sections: tuple[Section, ...]
    analysed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``dynamics`` object of ``mix analyze --json``."""
        return {
            "plr_db": _num(self.plr_db),
            "crest_db_bands": {"bands_hz": [float(f) for f in self.bands_hz],
                               "crest_db": [_num(c) for c in self.crest_db]},
            "sections": [s.to_dict() for s in self.sections],
        }


def compare_dynamics(mix: Dynamics, refs: Sequence[Dynamics]) -> dict[str, Any]:
    """The mix against references: positive PLR difference = more dynamic (less compressed).

    Returns
    -------
    dict
        ``{"plr_vs_reference_db": float | None, "crest_vs_reference_db": [float | None per band]}``,
        means over the references in dB; None without references.
    """
    refs = list(refs)
    plr_refs = [r.plr_db for r in refs if math.isfinite(r.plr_db)]
    plr = mix.plr_db - float(np.mean(plr_refs)) if plr_refs and math.isfinite(mix.plr_db) else None
    crest: list[float | None] = []
    for i in range(len(mix.bands_hz)):
        vals = [r.crest_db[i] for r in refs if i < len(r.crest_db) and math.isfinite(r.crest_db[i])]
        c = mix.crest_db[i]
        crest.append(_num(c - float(np.mean(vals))) if vals and math.isfinite(c) else None)
    return {"plr_vs_reference_db": _num(plr), "crest_vs_reference_db": crest}


# --- sections ----------------------------------------------------------------------------------

def _partition(y: np.ndarray, min_len: int, penalty: float) -> list[int]:
    """Optimal partitioning of ``y`` into segments >= ``min_len`` (squared error + penalty per
    segment).  Returns the segment boundaries ``[0, b1, ..., n]``."""
    n = y.size
    if n < 2 * min_len:
        return [0, n]
    c1 = np.concatenate(([0.0], np.cumsum(y)))
    c2 = np.concatenate(([0.0], np.cumsum(y * y)))
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    prev = np.zeros(n + 1, dtype=np.int64)
    for j in range(min_len, n + 1):
        i = np.arange(0, j - min_len + 1)
        i = i[np.isfinite(best[i])]
        if i.size == 0:
            continue
        m = j - i
        sse = (c2[j] - c2[i]) - (c1[j] - c1[i]) ** 2 / m
        cost = best[i] + sse + penalty
        k = int(np.argmin(cost))
        best[j] = cost[k]
        prev[j] = i[k]
    bounds = [n]
    while bounds[-1] > 0:
        bounds.append(int(prev[bounds[-1]]))
    return bounds[::-1]


def _sections(short_term_lufs: np.ndarray, duration_s: float) -> tuple[Section, ...]:
    """Sections of a short-term loudness series at 10 ms steps (value i ends at (i + 300) / 100 s)."""
    st = np.asarray(short_term_lufs, dtype=np.float64)
    if st.size == 0:
        return ()
    step = int(SECTION_STEP_S * SUB_BLOCKS_PER_S)
    y = np.maximum(np.where(np.isfinite(st), st, SHORT_TERM_FLOOR_LUFS), SHORT_TERM_FLOOR_LUFS)[::step]
    # the 3 s window of value k*step is centred at (k*step + 300)/100 - 1.5 s
    t_centre = (np.arange(y.size) * step + SHORT_TERM_SUB) / SUB_BLOCKS_PER_S - 1.5
    bounds = _partition(y, max(int(SECTION_MIN_S / SECTION_STEP_S), 1), SECTION_PENALTY_LU2)
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        start = 0.0 if a == 0 else 0.5 * (t_centre[a - 1] + t_centre[a])
        end = duration_s if b == y.size else 0.5 * (t_centre[b - 1] + t_centre[b])
        i0 = a * step
        i1 = (b - 1) * step + 1 if b < y.size else st.size
        seg = st[i0:i1]
        fin = seg[np.isfinite(seg)]
        level = 10.0 * math.log10(float(np.mean(10.0 ** (fin / 10.0)))) if fin.size else -math.inf
        out.append(Section(start_s=float(start), end_s=float(end),
                           short_term_range_lu=float(loudness_range_lu(seg)), loudness_lufs=level))
    return tuple(out)


# --- crest factors -----------------------------------------------------------------------------

def _interpolated_max(env: np.ndarray) -> float:
    """Largest value of the rows of ``env`` refined by a parabola through the largest sample
    and its neighbours (the envelope between its samples)."""
    r, c = np.unravel_index(int(np.argmax(env)), env.shape)
    y1 = float(env[r, c])
    if 0 < c < env.shape[1] - 1:
        y0, y2 = float(env[r, c - 1]), float(env[r, c + 1])
        den = y0 - 2.0 * y1 + y2
        if den < 0:
            return y1 - 0.125 * (y0 - y2) ** 2 / den
    return y1


def _crest(x: np.ndarray, fs: int) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    n_ch, n = x.shape
    nfft = 1 << int(round(math.log2(fs * FRAME_S)))
    hop = nfft // 2
    if n < nfft:
        x = np.pad(x, ((0, 0), (0, nfft - n)))
        n = nfft
    n_total = 1 + (n - nfft) // hop
    if n_total <= MAX_FRAMES:
        frames = np.arange(n_total)
    else:
        n_runs = MAX_FRAMES // RUN_FRAMES
        run0 = np.linspace(0, n_total - RUN_FRAMES, n_runs).round().astype(np.int64)
        frames = (run0[:, None] + np.arange(RUN_FRAMES)[None, :]).ravel()
    df = fs / nfft
    win = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nfft) / nfft)).astype(np.float32)   # periodic Hann
    bands = []
    for fc in OCTAVE_CENTRES_HZ:
        lo, hi = fc / math.sqrt(2.0), fc * math.sqrt(2.0)
        if hi > 0.45 * fs:
            continue
        k1, k2 = int(math.ceil(lo / df)), int(math.floor(hi / df))
        if k2 < k1:
            continue
        m = k2 - k1 + 1
        L = max(8, 1 << int(math.ceil(math.log2(ENVELOPE_OVERSAMPLING * m))))
        pos = np.arange(L) * (nfft / L)                          # sample position of each output
        central = (pos >= nfft / 4) & (pos < 3 * nfft / 4)
        inv_w = (1.0 / (0.5 - 0.5 * np.cos(2.0 * np.pi * pos[central] / nfft))).astype(np.float32)
        bands.append((fc, k1, k2, L, central, inv_w))
    peak = np.zeros((n_ch, len(bands)))
    power = np.zeros((n_ch, len(bands)))
    views = [np.lib.stride_tricks.sliding_window_view(x[c], nfft)[::hop] for c in range(n_ch)]
    chunk = 512
    for i in range(0, frames.size, chunk):
        rows = frames[i:i + chunk]
        run = int(rows[-1] - rows[0]) == rows.size - 1       # consecutive frames: a view, no gather
        for c, v in enumerate(views):
            X = scipy.fft.rfft((v[rows[0]:rows[-1] + 1] if run else v[rows]) * win, axis=-1)
            for b, (fc, k1, k2, L, central, inv_w) in enumerate(bands):
                xb = X[:, k1:k2 + 1]
                power[c, b] += float(np.sum(xb.real ** 2 + xb.imag ** 2))
                # analytic band signal at n = r nfft / L: (2 / nfft) L ifft_L(X_band)[r] (shifted)
                z = scipy.fft.ifft(xb, n=L, axis=-1)[:, central]
                env = np.abs(z) * inv_w
                peak[c, b] = max(peak[c, b], _interpolated_max(env) * 2.0 * L / nfft)
    # Parseval: sum over frames and band bins of |X|^2 = n_frames * nfft * sum(w^2) * ms / 2
    # (one-sided, so a real signal's band power is counted once: multiply by 2)
    ms = 2.0 * power / (frames.size * nfft * float(np.sum(win.astype(np.float64) ** 2)))
    # per band: the channel with the highest peak, against its own rms (a silent channel of a
    # 5.1 file or a one-sided part does not dilute the rms)
    top = np.argmax(peak, axis=0)
    crest = tuple(20.0 * math.log10(peak[c, b] / math.sqrt(ms[c, b])) if ms[c, b] > 0 and peak[c, b] > 0
                  else math.nan for b, c in enumerate(top))
    return tuple(b[0] for b in bands), crest, frames.size * hop / fs


def measure_dynamics(x: np.ndarray, *, fs: int, integrated_lufs: float, true_peak_dbtp: float,
                     short_term_lufs: np.ndarray | None = None) -> Dynamics:
    """PLR, sections and crest factors of a mix.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        The mix, full scale 1.0 (float32 or float64).
    fs : int
        Sample rate (Hz), keyword-only.
    integrated_lufs : float
        BS.1770 integrated loudness (LUFS).
    true_peak_dbtp : float
        True peak (dBTP).
    short_term_lufs : ndarray, optional
        Short-term loudness at 10 ms steps as :class:`mixes.loudness.LoudnessResult` gives it
        (value i ends at (i + 300) / 100 s); measured here when not given.

    Returns
    -------
    Dynamics

    Raises
    ------
    SignalError
        Bad shape, NaN/Inf samples, sample rate outside 8000..768000 Hz.
    """
    arr = as_programme(x)
    if isinstance(fs, bool) or int(fs) != fs or not (8000 <= int(fs) <= 768_000):
        raise SignalError(f"sample rate {fs!r} Hz is outside 8000..768000 Hz")
    fs = int(fs)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    plr = float(true_peak_dbtp) - float(integrated_lufs)
    if short_term_lufs is None:
        short_term_lufs = loudness(arr, fs=fs).short_term_lufs
    sections = _sections(short_term_lufs, arr.shape[1] / fs)
    with single_threaded_blas():
        bands, crest, analysed = _crest(arr, fs)
    return Dynamics(plr_db=plr if math.isfinite(plr) else math.nan, bands_hz=bands, crest_db=crest,
                    sections=sections, analysed_s=min(analysed, arr.shape[1] / fs))
