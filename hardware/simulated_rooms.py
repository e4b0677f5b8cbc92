"""Rooms of many named speakers for the simulated backend (immersive layouts, subwoofers):
image sources in a shoebox (Allen & Berkley 1979), one IR per speaker.

Re-exported by :mod:`hardware.simulated`.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import signal

from calib.errors import SignalError
from calib.types import ImpulseResponse
from hardware.simulated import C_M_S, DIRECT_GAIN_M, _dist

__all__ = ["image_source_ir", "layout_room"]


def image_source_ir(src_m: Sequence[float], mic_m: Sequence[float], *, dims_m: Sequence[float], fs: int,
                    reflection: float = 0.5, max_order: int = 2, length_s: float = 0.5,
                    c_m_s: float = C_M_S, gain_m: float = DIRECT_GAIN_M, half: int = 16,
                    lowpass_hz: float | None = None, highpass_hz: float | None = None) -> np.ndarray:
    """Impulse response of a point source in a rectangular room by the image method
    (Allen & Berkley 1979), all six surfaces with one frequency-independent pressure
    reflection factor.

    Image ``(qx, px, qy, py, qz, pz)`` sits at ``(1 - 2p) s + 2 q L`` per axis after
    ``|q - p| + |q|`` reflections on that axis; every image with at most ``max_order``
    reflections in total and arriving within ``length_s`` is rendered as a band-limited
    fractional impulse (Kaiser-windowed sinc, ``2 half`` taps) of amplitude
    ``gain_m reflection^order / r``.  Time origin = emission.

    Parameters
    ----------
    src_m, mic_m : (x, y, z) in metres, inside the room
    dims_m : (Lx, Ly, Lz) metres
    fs : int
        Sample rate (Hz).  Low rates (e.g. 2000 Hz) are valid for studies below 200 Hz.
    reflection : float
        Pressure reflection factor of every surface, 0..0.99.
    max_order : int
        Most reflections per image (high orders, e.g. 30, build the low-frequency modes).
    length_s : float
        IR length (s).
    lowpass_hz, highpass_hz : float, optional
        The driver's own band limits, 2nd-order Butterworth each (a subwoofer's upper limit,
        a sealed main speaker's low-frequency roll-off), applied causally.

    Returns
    -------
    ndarray, shape (round(length_s fs),)

    Raises
    ------
    SignalError
        A source or mic outside the room, a reflection factor outside 0..0.99.
    """
    dims = np.asarray(dims_m, dtype=float)
    s = np.asarray(src_m, dtype=float)
    m = np.asarray(mic_m, dtype=float)
    if dims.shape != (3,) or np.any(dims <= 0):
        raise SignalError(f"room dimensions {list(dims_m)} must be three positive lengths in metres")
    for what, p in (("source", s), ("mic", m)):
        if p.shape != (3,) or np.any(p < 0) or np.any(p > dims):
            raise SignalError(f"{what} position {list(p)} m lies outside the {' x '.join(f'{d:g}' for d in dims)} m room")
    if not (0.0 <= reflection <= 0.99):
        raise SignalError(f"reflection factor {reflection} is outside 0..0.99")
    n = int(round(length_s * fs))
    r_max = length_s * c_m_s
    per_axis = []
    for ax in range(3):
        L = dims[ax]
        qmax = min(int(max_order), int(math.ceil(r_max / (2 * L))) + 1)
        q = np.arange(-qmax, qmax + 1)
        pos, order = [], []
        for p in (0, 1):
            pos.append((1 - 2 * p) * s[ax] + 2 * q * L)
            order.append(np.abs(q - p) + np.abs(q))
        per_axis.append((np.concatenate(pos) - m[ax], np.concatenate(order)))
    (dx, ox), (dy, oy), (dz, oz) = per_axis
    r = np.sqrt(dx[:, None, None] ** 2 + dy[None, :, None] ** 2 + dz[None, None, :] ** 2).ravel()
    order = (ox[:, None, None] + oy[None, :, None] + oz[None, None, :]).ravel()
    keep = (order <= max_order) & (r < r_max)
    r, order = r[keep], order[keep]
    amp = gain_m * reflection ** order / np.maximum(r, 1e-3)
    t_samp = r / c_m_s * fs
    h = np.zeros(n + 2 * half + 2)
    w = np.kaiser(2 * half + 1, 8.0)
    for lo in range(0, r.size, 20000):      # bounded memory: 20000 images x 2 half taps at a time
        tp, a = t_samp[lo:lo + 20000], amp[lo:lo + 20000]
        n0 = np.floor(tp).astype(int)
        k = n0[:, None] + np.arange(-half + 1, half + 1)[None, :]
        d = k - tp[:, None]
        wv = np.interp(d + half, np.arange(2 * half + 1), w)
        ok = (k >= 0) & (k < h.size)
        np.add.at(h, k[ok], (a[:, None] * np.sinc(d) * wv)[ok])
    h = h[:n]
    if highpass_hz:
        h = signal.sosfilt(signal.butter(2, highpass_hz, "highpass", fs=fs, output="sos"), h)
    if lowpass_hz:
        h = signal.sosfilt(signal.butter(2, lowpass_hz, "lowpass", fs=fs, output="sos"), h)
    return h


def layout_room(speakers_m: Mapping[str, Sequence[float]], mic_m: Sequence[float], *,
                dims_m: Sequence[float], fs: int, subs: Sequence[str] = (), reflection: float = 0.5,
                max_order: int = 2, length_s: float = 0.5, sub_max_order: int | None = None,
                main_highpass_hz: float | None = 40.0, sub_lowpass_hz: float | None = 200.0,
                gains_db: Mapping[str, float] | None = None) -> ImpulseResponse:
    """A room of named speakers (mains and subwoofers) for the simulated backend: one IR per
    speaker, in the order of ``speakers_m`` (give the subs last), built by
    :func:`image_source_ir`.

    Mains get a sealed-box roll-off (2nd-order high-pass at ``main_highpass_hz``), subs their
    upper limit (2nd-order low-pass at ``sub_lowpass_hz``) and ``sub_max_order`` reflections
    (default ``max_order``).  ``gains_db`` sets a speaker's sensitivity (dB, default 0).
    ``arrival_samples`` holds the exact direct-sound delays; ``meta["distance_m"]`` the
    distances.
    """
    rows, arrivals, dist = [], [], {}
    for name, pos in speakers_m.items():
        is_sub = name in subs
        h = image_source_ir(pos, mic_m, dims_m=dims_m, fs=fs, reflection=reflection,
                            max_order=(sub_max_order or max_order) if is_sub else max_order, length_s=length_s,
                            lowpass_hz=sub_lowpass_hz if is_sub else None,
                            highpass_hz=None if is_sub else main_highpass_hz)
        rows.append(h * 10 ** ((gains_db or {}).get(name, 0.0) / 20))
        d = _dist(pos, mic_m)
        dist[name] = d
        arrivals.append(d / C_M_S * fs)
    unknown = [s for s in subs if s not in speakers_m]
    if unknown:
        raise SignalError(f"subs {unknown} are not among the speakers {list(speakers_m)}")
    return ImpulseResponse(samples=np.vstack(rows), fs=int(fs), channel_names=tuple(speakers_m), onset_samples=0,
                           arrival_samples=tuple(arrivals), latency_samples=0.0, source_id="layout-room",
                           meta={"simulated": True, "room": "layout", "dims_m": list(dims_m), "subs": list(subs),
                                 "distance_m": dist})
