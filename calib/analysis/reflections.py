"""Energy-time curve, early reflections, and image-source attribution to room surfaces.

- ETC: the squared envelope of the analytic signal of the IR after a Blackman-shaped band
  weighting (see :func:`energy_time_curve_db`), in dB re the direct sound's peak.  The envelope
  of an impulse then has one smooth lobe whose height is proportional to the impulse's
  amplitude, so peak levels read reflection amplitudes directly (for flat-spectrum reflections;
  otherwise a band-weighted level).
- Early reflections: peaks of the envelope after the direct sound with at least
  ``min_prominence_db`` prominence and at least ``min_level_db`` re the direct sound, within
  ``window_ms``; arrival by parabolic interpolation of the dB envelope (sub-sample).
  Extra path = ``c·delay`` with ``c`` corrected for temperature (STANDARDS.md §8.1).
- Surfaces (when the room box and the source/mic positions are known): the image-source model
  of a rectangular room (Allen & Berkley, JASA 65(4) 1979) gives the extra path of every first-
  and second-order image; each reflection is attributed to the image whose delay is nearest,
  if within ``max(0.15 ms, 3 %)``; images tying with the nearest within the ETC's resolution
  (0.15 ms) are named by the lowest order among them.

Coordinates (m): origin at the floor corner where the **front wall** (the one the speakers
stand against) meets the **left wall** as seen from the listening seat; ``x`` runs from the front
wall toward the rear wall (room length), ``y`` from the left wall to the right wall (width),
``z`` up from the floor (height).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import signal

from calib.analysis.physics import check_dims_m
from calib.analysis.response import peak_position_samples
from calib.analysis.types import Reflection
from calib.errors import ConfigError, SignalError

__all__ = [
    "SURFACES",
    "ImageSource",
    "energy_time_curve_db",
    "image_sources",
    "early_reflections",
    "max_reflection_level_db",
]

#: Time resolution of the full-band ETC (ms): its Blackman main lobe merges reflections closer
#: than about this (see :func:`energy_time_curve_db`); image delays closer than it tie.
ETC_RESOLUTION_MS = 0.15

#: Surface names per (axis, side): side 0 is the plane at coordinate 0.
SURFACES = {(0, 0): "front wall", (0, 1): "rear wall", (1, 0): "left wall", (1, 1): "right wall",
            (2, 0): "floor", (2, 1): "ceiling"}


@dataclass(frozen=True)
class ImageSource:
    """An image source: surfaces hit (in order of the axes), extra path over the direct (m)."""

    surfaces: tuple[str, ...]
    extra_path_m: float
    distance_m: float

    @property
    def name(self) -> str:
        return " + ".join(self.surfaces)


def energy_time_curve_db(x: np.ndarray, *, fs: int, band_hz: tuple[float, float] | None = None) -> np.ndarray:
    """Energy-time curve (dB re its maximum): squared envelope of the analytic signal of ``x``
    after a Blackman-shaped band weighting.

    The analytic signal is formed in the frequency domain (positive frequencies only), weighted
    by a Blackman window spanning ``band_hz`` (default 0 … 0.45·fs).  A rectangular band would
    give the envelope of an impulse nulls and side lobes (|sinc|), which read as false
    reflections; the Blackman taper keeps side lobes below -58 dB at the cost of a main lobe
    of about ±3/B seconds (B = bandwidth), i.e. reflections closer than ~0.15 ms (full band at
    48 kHz) merge.

    Parameters
    ----------
    x : ndarray, shape (n,)
    fs : int
    band_hz : (lo, hi), optional
        Band of the weighting (e.g. 1–8 kHz for Tech 3276); ``hi`` is capped at 0.45·fs.

    Returns
    -------
    ndarray, shape (n,)  ETC in dB, 0 dB at the largest value, floored at -300 dB.
    """
    x = np.asarray(x, dtype=np.float64)
    lo, hi = (0.0, 0.45 * fs) if band_hz is None else (float(band_hz[0]), min(float(band_hz[1]), 0.45 * fs))
    if not (0 <= lo < hi):
        raise SignalError(f"ETC band {band_hz} Hz is invalid at fs={fs} Hz")
    n = x.size
    nf = 1 << int(math.ceil(math.log2(max(2 * n, 2))))
    spec = np.fft.fft(x, nf)
    f = np.fft.fftfreq(nf, 1.0 / fs)
    w = np.zeros(nf)
    inb = (f >= lo) & (f <= hi)
    u = (f[inb] - lo) / (hi - lo)                       # 0..1 across the band
    w[inb] = 0.42 - 0.5 * np.cos(2 * np.pi * u) + 0.08 * np.cos(4 * np.pi * u)
    env = np.abs(np.fft.ifft(2.0 * spec * w)[:n]) ** 2
    mx = env.max()
    if mx <= 0:
        raise SignalError("the impulse response is silent (all samples zero); re-measure")
    return 10.0 * np.log10(np.maximum(env / mx, 1e-30))


def _check_pos(name: str, p: Sequence[float], dims: tuple[float, float, float]) -> np.ndarray:
    try:
        v = np.array([float(a) for a in p])
    except (TypeError, ValueError):
        raise ConfigError(f"{name} position {p!r} must be three numbers X,Y,Z in metres") from None
    if v.shape != (3,):
        raise ConfigError(f"{name} position needs 3 coordinates X,Y,Z in metres, got {v.size}")
    if np.any(v < 0) or np.any(v > np.array(dims)):
        raise ConfigError(f"{name} position ({', '.join(f'{a:g}' for a in v)}) m lies outside the room "
                          f"({', '.join(f'{float(a):g}' for a in dims)}) m; "
                          "measure it from the front-left floor corner")
    return v


def image_sources(dims_m: Sequence[float], source_m: Sequence[float], mic_m: Sequence[float], *,
                  max_order: int = 2) -> tuple[ImageSource, ...]:
    """First- (and second-) order image sources of a rectangular room, nearest first.

    Image of the source across the plane ``axis = 0`` is at ``-s``, across ``axis = L`` at
    ``2L - s``; second order applies two reflections (possibly the same axis twice, e.g. the
    front and rear wall).
    """
    dims = check_dims_m(dims_m)
    s = _check_pos("source", source_m, dims)
    m = _check_pos("mic", mic_m, dims)
    direct = float(np.linalg.norm(s - m))
    out = []
    # each image is described by integers (n, side) per axis: coordinate = 2nL ± s
    for ix in range(-max_order, max_order + 1):
        for iy in range(-max_order, max_order + 1):
            for iz in range(-max_order, max_order + 1):
                order = abs(ix) + abs(iy) + abs(iz)
                if order == 0 or order > max_order:
                    continue
                pos = s.copy()
                names: list[str] = []
                for axis, k in enumerate((ix, iy, iz)):
                    L = dims[axis]
                    # |k| reflections along this axis; k > 0 starts at the far wall
                    c = s[axis]
                    hits = []
                    side = 1 if k > 0 else 0
                    for _ in range(abs(k)):
                        c = 2 * L - c if side == 1 else -c
                        hits.append(SURFACES[(axis, side)])
                        side = 1 - side
                    pos[axis] = c
                    names += hits
                d = float(np.linalg.norm(pos - m))
                out.append(ImageSource(surfaces=tuple(names), extra_path_m=d - direct, distance_m=d))
    out.sort(key=lambda im: im.extra_path_m)
    return tuple(out)


def early_reflections(x: np.ndarray, *, fs: int, c_m_s: float, channel: str = "",
                      window_ms: float = 50.0, min_level_db: float = -30.0, min_prominence_db: float = 3.0,
                      band_hz: tuple[float, float] | None = None, min_delay_ms: float = 0.25,
                      images: Sequence[ImageSource] = (), max_count: int = 30,
                      late_after_ms: float | None = None,
                      late_min_level_db: float = -10.0) -> tuple[Reflection, ...]:
    """Early reflections of one channel's IR (see the module notes).

    Parameters
    ----------
    x : ndarray, shape (n,)
    fs : int
    c_m_s : float
        Speed of sound (m/s) at the room temperature.
    window_ms : float
        Latest arrival considered, after the direct sound (ms).
    min_level_db : float
        Weakest reflection reported, re the direct sound (dB).
    min_prominence_db : float
        Smallest prominence of an envelope peak (dB).
    band_hz : (lo, hi), optional
        Band-limit the ETC first.
    min_delay_ms : float
        Ignore peaks closer than this to the direct sound (its own tail).
    images : sequence of ImageSource
        Candidates for surface attribution (from :func:`image_sources`).
    max_count : int
        At most this many (the strongest), reported in order of arrival.
    late_after_ms : float, optional
        When given, a peak arriving later than this after the direct sound is reported only
        when it reaches ``late_min_level_db`` (a discrete echo), so that the diffuse tail's
        noise peaks do not bury the early reflections that shape the image.
    late_min_level_db : float
        Weakest late reflection reported, re the direct sound (dB).

    Returns
    -------
    tuple of Reflection, in order of arrival.
    """
    etc = energy_time_curve_db(x, fs=fs, band_hz=band_hz)
    i_d = int(np.argmax(etc))
    t_d = _interp_peak_pos(etc, i_d)
    lvl_d = etc[i_d]
    i_end = min(etc.size, i_d + int(window_ms * 1e-3 * fs) + 2)
    seg = etc[i_d:i_end]
    peaks, _ = signal.find_peaks(seg, prominence=min_prominence_db)
    found = []
    for p in peaks:
        i = i_d + int(p)
        t = _interp_peak_pos(etc, i)
        delay_ms = (t - t_d) / fs * 1000.0
        level = _interp_peak_level(etc, i) - lvl_d
        if delay_ms < min_delay_ms or delay_ms > window_ms or level < min_level_db:
            continue
        if late_after_ms is not None and delay_ms > late_after_ms and level < late_min_level_db:
            continue
        found.append((delay_ms, level))
    found.sort(key=lambda r: -r[1])
    found = sorted(found[:max_count])
    out = []
    for delay_ms, level in found:
        path = c_m_s * delay_ms * 1e-3
        surface, err = None, math.nan
        if images:
            dly = np.array([im.extra_path_m / c_m_s * 1000.0 for im in images])
            dev = np.abs(dly - delay_ms)
            j = int(np.argmin(dev))
            tol = max(0.15, 0.03 * delay_ms)
            if dev[j] <= tol:
                # images whose delays tie with the nearest within the ETC's resolution cannot be
                # told apart by time: the lowest order is the likelier path (it is stronger, one
                # absorption fewer and a shorter path), so a first-order wall is not named after
                # a second-order pair that happens to arrive at the same moment
                tie = np.flatnonzero(dev <= dev[j] + ETC_RESOLUTION_MS)
                j = int(min(tie, key=lambda t: (len(images[t].surfaces), dev[t])))
                surface, err = images[j].name, float(delay_ms - dly[j])
        out.append(Reflection(delay_ms=delay_ms, level_db=level, path_m=path, channel=channel,
                              surface=surface, surface_error_ms=err))
    return tuple(out)


def _interp_peak_pos(y: np.ndarray, i: int) -> float:
    if 0 < i < y.size - 1:
        y0, y1, y2 = y[i - 1], y[i], y[i + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            return i + 0.5 * (y0 - y2) / den
    return float(i)


def _interp_peak_level(y: np.ndarray, i: int) -> float:
    if 0 < i < y.size - 1:
        y0, y1, y2 = y[i - 1], y[i], y[i + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            d = 0.5 * (y0 - y2) / den
            return float(y1 - 0.25 * (y0 - y2) * d)
    return float(y[i])


def max_reflection_level_db(x: np.ndarray, *, fs: int, window_ms: float, band_hz: tuple[float, float],
                            min_delay_ms: float = 0.25) -> tuple[float, float]:
    """Strongest envelope peak within ``window_ms`` after the direct sound, re the direct (dB),
    in ``band_hz`` (Tech 3276 early-reflection check).  Returns (level_db, delay_ms); level is
    -inf when there is no peak."""
    refl = early_reflections(x, fs=fs, c_m_s=343.0, window_ms=window_ms, min_level_db=-300.0,
                             band_hz=band_hz, min_delay_ms=min_delay_ms)
    if not refl:
        return -math.inf, math.nan
    r = max(refl, key=lambda r: r.level_db)
    return r.level_db, r.delay_ms


def direct_arrival_s(x: np.ndarray, *, fs: int) -> float:
    """Arrival time of the direct sound (s): interpolated peak of |x|."""
    return peak_position_samples(x) / fs
