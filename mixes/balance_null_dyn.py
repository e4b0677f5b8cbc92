"""A limiter or compressor on one side of a same-song pair, for the null test
(:mod:`mixes.balance_null`): estimate its time-varying broadband gain and divide it out.

Method
------
A look-ahead peak limiter or a bus compressor multiplies the whole programme by a gain
``g(t)`` that moves at its own time scale (attack 1-30 ms, release 50-500 ms).  With it on one
side, ``m = c g(t) (A + g_v V + g_b B)`` against ``r = A + V + B`` (or ``r`` carries it):
the difference ``m / c - r`` then holds ``(g(t) - 1)`` times the whole song, and the parts'
figures read the limiter's mean gain reduction (a vocal and bass 2-7 dB low for a drive of
3-8 dB).  Per short frame (``FRAME_S``, hop a quarter of it) the ratio ``|M(k)|^2 / |R(k)|^2``
of the bins where the unchanged accompaniment dominates is ``(c g(t))^2``; the moved voice and
bass sit at their own ratios, in their partials only.  So per frame the gain is the densest
``MODE_WIDTH_DB`` window of the bins' log ratios (bins with energy, counted one each: the
accompaniment, its drums, cymbals, reverb and air, spans far more bins than a voice's partials
or a bass's), refined as the mean log ratio inside it; frames where that window holds fewer
than ``MIN_MODE_SHARE`` of the bins take the gain of their neighbours.  The track is smoothed
by a median over ``SMOOTH_S`` and interpolated (in dB) to every sample.  When it spreads less
than ``DYN_MIN_SPREAD_DB`` (5th-95th percentile) there is no limiter to remove and the pair is
left untouched (the null test of session 6, bit for bit); else the mix is divided by the gain
track (normalised to its median) and the null test runs on that.  What the estimate cannot
follow (a gain moving within the 21-ms frame, a limiter's distortion) stays in the difference
as a residual, which the gate's null share then judges.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from scipy import ndimage

__all__ = ["DynTrack", "gain_track", "remove_dynamics", "DYN_MIN_SPREAD_DB"]

FRAME_S = 0.021            # the short frame (1024 samples at 48 kHz: 47-Hz bins, 5.3-ms hop)
MODE_WIDTH_DB = 0.5        # the densest window of bin ratios per frame
MIN_MODE_SHARE = 0.15      # ... must hold this share of the frame's bins with energy
BIN_FLOOR_DB = -60.0       # bins this far under the frame's loudest reference bin are skipped
LOW_HZ = 150.0             # bins under this are skipped (the bass and the kick's own ratios)
SMOOTH_S = 0.03            # median over this much of the track
DYN_MIN_SPREAD_DB = 0.4    # 5th-95th percentile spread of the track that means "dynamics"
SPIKE_HALF_DB = 0.15       # the track's values within this of one of its SPIKES densest values
SPIKES = 3                 # ... are the parts' own offsets (accompaniment, voice, bass), and
DYN_MIN_REST = 0.25        # at least this share of the frames must lie elsewhere ("dynamics")
DYN_ZONE_REST = 0.04       # from here to DYN_MIN_REST: ambiguous (see balance_null.null_balance)
SPIKE_MIN_SHARE = 0.03     # a secondary spike (a moved part's offset) holds this share of frames
SPIKE_SHARPNESS = 3.0      # ... and this many times the frames of its flanks (2 half-widths)
SPIKE_BASIN_DB = 1.0       # frames this near a spike (at most half-way to the main) go with it
SHIFT_MAX_SHARE = 0.03     # a frame with fewer of its bins at the commonest gain is "shifted"


class DynTrack:
    """The per-frame gain of the mix against the reference.

    Attributes
    ----------
    t_samples : ndarray
        Frame centres (samples into the overlap).
    gain_db : ndarray
        Smoothed gain per frame (dB, ``20 log10 |m / r|`` of the accompaniment).
    reliable : ndarray of bool
        Frames whose densest window held ``MIN_MODE_SHARE`` of the bins.
    spread_db : float
        5th-95th percentile spread of ``gain_db`` over the reliable frames (dB).
    """

    def __init__(self, t_samples, gain_db, reliable, spread_db, rest_share=0.0, shifted_share=0.0):
        self.t_samples = t_samples
        self.gain_db = gain_db
        self.reliable = reliable
        self.spread_db = spread_db
        self.rest_share = rest_share
        self.shifted_share = shifted_share

        self.applied = False

    @property
    def dynamic(self) -> bool:
        """A limiter or compressor: the track spreads and is not made of a few fixed offsets."""
        return self.spread_db >= DYN_MIN_SPREAD_DB and self.rest_share >= DYN_MIN_REST

    @property
    def ambiguous(self) -> bool:
        """Between: a light limiter, or a moved voice filling a sparse song's bins."""
        return (self.spread_db >= DYN_MIN_SPREAD_DB and DYN_ZONE_REST <= self.rest_share < DYN_MIN_REST)


def _rest_share(g: np.ndarray) -> float:
    """Share of the values not within ``SPIKE_HALF_DB`` of the ``SPIKES`` densest values.

    Without dynamics the track sits at the accompaniment's gain, and in frames where a moved
    part fills most bins at that part's own fixed offset (a voice in a sparse song: up to
    half the frames of a songs3 song): a few sharp spikes, and the frames of the voice mixed
    with a little accompaniment between them (measured rest 0.00-0.06 on most of 41 songs of
    three generators, 0.12 / 0.17 on two voice-filled songs3 songs).  A limiter or compressor
    spreads it continuously (0.32-0.79 at a drive of 8 dB or a 2:1 compressor 6 dB over,
    0.13-0.35 at 5 dB, 0.01-0.31 at 2-3 dB)."""
    g = np.asarray(g, dtype=np.float64)
    rest = np.ones(g.size, dtype=bool)
    for _ in range(SPIKES):
        if not rest.any():
            break
        v = np.sort(g[rest])
        hi = np.searchsorted(v, v + 2 * SPIKE_HALF_DB, side="right")
        i = int(np.argmax(hi - np.arange(v.size)))
        centre = v[(i + hi[i] - 1) // 2]
        rest &= ~(np.abs(g - centre) <= SPIKE_HALF_DB)
    return float(rest.mean()) if g.size else 0.0


def _frames_fft(x: np.ndarray, nfft: int, hop: int) -> np.ndarray:
    """Power spectra of the channel sum's frames: (frames, bins)."""
    s = x.sum(axis=0).astype(np.float32)
    if s.size < nfft:
        s = np.pad(s, (0, nfft - s.size))
    v = np.lib.stride_tricks.sliding_window_view(s, nfft)[::hop]
    win = np.hanning(nfft + 1)[:-1].astype(np.float32)
    out = np.empty((v.shape[0], nfft // 2 + 1), dtype=np.float32)
    for i in range(0, v.shape[0], 1024):
        out[i:i + 1024] = np.abs(scipy.fft.rfft(v[i:i + 1024] * win, axis=-1)) ** 2
    return out


def gain_track(m: np.ndarray, r: np.ndarray, fs: int, ref_db: float | None = None) -> DynTrack:
    """Per short frame, the gain of the mix's accompaniment against the reference's.

    Parameters
    ----------
    m, r : ndarray, shape (n_channels, n_samples)
        Mix and reference, already aligned (same length).
    fs : int
        Sample rate (Hz).
    ref_db : float, optional
        The accompaniment's overall gain when known (the gate's, dB): the track's main spike.

    Returns
    -------
    DynTrack
    """
    nfft = 1 << int(round(math.log2(FRAME_S * fs)))
    hop = nfft // 4
    Pm = _frames_fft(m, nfft, hop)
    Pr = _frames_fft(r, nfft, hop)
    fk = np.arange(nfft // 2 + 1) * fs / nfft
    sel = (fk >= LOW_HZ) & (fk <= min(16000.0, 0.45 * fs))
    Pm, Pr = Pm[:, sel], Pr[:, sel]
    top = np.maximum(Pr.max(axis=1, initial=0.0), Pm.max(axis=1, initial=0.0))
    fl = top[:, None] * 10.0 ** (BIN_FLOOR_DB / 10.0)
    ok = (Pr > fl) & (Pm > fl) & (top[:, None] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        l_db = 10.0 * np.log10(Pm / Pr)
    # the densest MODE_WIDTH_DB window per frame: counts on a 0.1-dB grid, a box over the width
    step = 0.1
    lo_db, hi_db = -60.0, 60.0
    nq = int((hi_db - lo_db) / step) + 1
    q = np.clip(np.round(np.nan_to_num((l_db - lo_db) / step)), 0, nq - 1).astype(np.int64)
    F = l_db.shape[0]
    rows = np.broadcast_to(np.arange(F)[:, None], q.shape)
    cnt = np.bincount((rows[ok] * nq + q[ok]), minlength=F * nq).reshape(F, nq).astype(np.float32)
    w = int(round(MODE_WIDTH_DB / step)) + 1
    dens = ndimage.uniform_filter1d(cnt, w, axis=1, mode="constant") * w
    k = np.argmax(dens, axis=1)
    mode = lo_db + k * step
    n_ok = np.maximum(ok.sum(axis=1), 1)
    share = dens[np.arange(F), k] / n_ok
    inside = ok & (np.abs(l_db - mode[:, None]) <= MODE_WIDTH_DB / 2 + step / 2)
    with np.errstate(invalid="ignore"):
        fine_db = np.where(inside.any(axis=1),
                          np.nansum(np.where(inside, l_db, 0.0), axis=1) / np.maximum(inside.sum(axis=1), 1), mode)
    reliable = (share >= MIN_MODE_SHARE) & (ok.sum(axis=1) >= 16)
    g = fine_db                                        # 10 log10 of a power ratio: dB
    t = np.arange(F) * hop + nfft // 2
    if np.count_nonzero(reliable) < 4:
        return DynTrack(t, np.zeros(F), reliable, 0.0)
    g = np.interp(t, t[reliable], g[reliable])
    g = ndimage.median_filter(g, size=max(1, int(round(SMOOTH_S * fs / hop))) | 1, mode="nearest")
    rest = _rest_share(g[reliable])
    g = _despike(g, reliable, t, ref_db)
    p5, p95 = np.percentile(g[reliable], [5, 95])
    # the frames with (almost) no bin at the song's commonest gain: a broadband gain moved them
    c0 = float(np.median(g[reliable]))
    k0 = int(np.clip(round((c0 - lo_db) / step), 0, nq - 1))
    at_c0 = dens[:, k0] / n_ok
    shifted = float(np.mean(at_c0[reliable] < SHIFT_MAX_SHARE))
    return DynTrack(t, g, reliable, float(p95 - p5), rest, shifted)


def _despike(g: np.ndarray, reliable: np.ndarray, t: np.ndarray, ref_db: float | None = None) -> np.ndarray:
    """The track with the frames on a sharp secondary spike taken from their neighbours.

    A moved part that fills most bins of a frame (a voice in a sparse song) pulls the frame's
    gain to the part's own fixed offset: the track's histogram has a sharp spike there (>=
    ``SPIKE_MIN_SHARE`` of the frames within ``SPIKE_HALF_DB``, ``SPIKE_SHARPNESS`` times denser
    than the flanks), where a limiter's gain moves continuously.  Those frames take the gain of
    the nearest other frames (linear in dB), so the part's change is not divided out with the
    limiter's."""
    v = np.sort(g[reliable])
    if v.size < 16:
        return g
    hi = np.searchsorted(v, v + 2 * SPIKE_HALF_DB, side="right")
    cnt = hi - np.arange(v.size)
    main = v[(int(np.argmax(cnt)) + hi[int(np.argmax(cnt))] - 1) // 2]
    if ref_db is not None and np.count_nonzero(np.abs(v - ref_db) <= SPIKE_HALF_DB) >= SPIKE_MIN_SHARE * v.size:
        main = ref_db        # the accompaniment's gain as the gate chose it (voice-filled frames can outnumber it)
    on = np.zeros(g.size, dtype=bool)
    rest = reliable.copy()
    for _ in range(SPIKES):
        rest &= ~(np.abs(g - main) <= SPIKE_HALF_DB)
        if np.count_nonzero(rest) < 16:
            break
        w = np.sort(g[rest])
        h2 = np.searchsorted(w, w + 2 * SPIKE_HALF_DB, side="right")
        i = int(np.argmax(h2 - np.arange(w.size)))
        c = w[(i + h2[i] - 1) // 2]
        inside = np.abs(g - c) <= SPIKE_HALF_DB
        n_in = np.count_nonzero(inside & reliable)
        flank = np.count_nonzero(reliable & (np.abs(g - c) > SPIKE_HALF_DB) & (np.abs(g - c) <= 3 * SPIKE_HALF_DB))
        rest &= ~inside
        if (n_in >= SPIKE_MIN_SHARE * np.count_nonzero(reliable) and n_in >= SPIKE_SHARPNESS * flank
                and abs(c - main) >= 0.5):
            # the spike and the frames near it (the part mixed with a little accompaniment)
            on |= np.abs(g - c) <= min(SPIKE_BASIN_DB, 0.5 * abs(c - main))
    keep = reliable & ~on
    if not np.any(on) or np.count_nonzero(keep) < 4:
        return g
    return np.where(on, np.interp(t, t[keep], g[keep]), g)


def remove_dynamics(m: np.ndarray, r: np.ndarray, fs: int, *, mode: str = "auto",
                    ref_db: float | None = None) -> tuple[np.ndarray, DynTrack]:
    """The mix with the time-varying gain against the reference divided out.

    Parameters
    ----------
    m, r : ndarray, shape (n_channels, n_samples)
        Mix and reference, aligned (same length).
    fs : int
        Sample rate (Hz).
    mode : {"auto", "on", "off"}
        "auto": divide the track out when :attr:`DynTrack.dynamic`; "on": whenever it spreads
        ``DYN_MIN_SPREAD_DB``; "off": never.
    ref_db : float, optional
        See :func:`gain_track`.

    Returns
    -------
    m_fixed : ndarray
        ``m`` itself when the gain track is not :attr:`DynTrack.dynamic`; else ``m``
        divided by the track (normalised to its median: the overall gain is left for the gate).
    track : DynTrack
    """
    tr = gain_track(m, r, fs, ref_db)
    if mode == "off" or (mode == "auto" and not tr.dynamic) or tr.spread_db < DYN_MIN_SPREAD_DB:
        return m, tr
    tr.applied = True
    g_db = tr.gain_db - (float(np.median(tr.gain_db[tr.reliable])) if ref_db is None else ref_db)
    n = np.arange(m.shape[1])
    g = 10.0 ** (-np.interp(n, tr.t_samples, g_db) / 20.0)
    return m * g, tr
