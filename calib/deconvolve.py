"""Sweep deconvolution: recording -> linear impulse response + harmonic impulse responses.

Method (STANDARDS.md §1.1, §1.2, §1.5)
--------------------------------------
1. Linear (zero-padded) deconvolution by the stimulus actually played, regularised
   (Kirkeby): ``D(f) = W(f) conj(X(f)) / (|X(f)|^2 + beta)`` with ``beta = eps * max|X|^2``
   and ``W`` the band limit of :func:`band_filter` (causal high-pass at f1, zero-phase
   skirt over the last 1/6 octave below f2).  Dividing by the stimulus itself (not an
   idealised inverse) makes the scale exact: a wire measures as a unit impulse in band,
   whatever the sweep level.  The FFT length is at least recording + sweep, so the harmonic
   IRs (which land at ``-L ln k``, before the linear IR) never wrap onto it.
2. With a loopback reference channel ``R`` the interface's own response and latency are
   removed by a second regularised division, ``C = W conj(G) / (|G|^2 + eps_r max|G|^2)``
   with ``G = R D`` (the interface IR).  The latency is the (sub-sample) arrival of ``G``.
3. The time origin ``t0`` is the first sweep sample (plus the latency when it is known).  Every
   channel of a measurement is cut at the same ``t0 - onset_samples``, so relative timing
   survives; ``arrival_samples`` gives each channel's direct-sound position.
4. Harmonic IR ``k`` is cut around ``t0 - L ln k`` after an exact fractional shift (FFT
   phase), so it is sample-aligned with the linear IR and, with Novak's synchronized sweep,
   phase-synchronous.  It keeps the linear IR's scale: for ``y = x + a2 x^2 + a3 x^3`` and a
   sweep of peak ``A``, ``|H2| = a2 A / 2`` and ``|H3| = a3 A^2 / 4``.
5. SNR: the noise of the IR is predicted from the silent pre-roll through the same filter,
   ``var = sum_k S_noise(f_k) |D[k] C[k]|^2 df`` (Welch PSD of the pre-roll, Parseval), and
   ``snr_db`` is the IR's peak over that noise (peak-to-noise ratio, the quantity ISO 3382
   decay fits need).  A pre-roll quieter than ``NOISE_FLOOR_DBFS`` (RMS) cannot come from a
   converter (a 24-bit one's own quantisation noise is -149 dBFS RMS): it is a digital or
   virtual path (the JACK rig, a file).  Its noise is then taken as white at that floor, so
   every such channel gets the same finite *lower bound* (never ``inf`` for one channel and a
   round-off figure for the other) and ``snr_floor_limited`` says which channels it is.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import signal

from calib.errors import SignalError
from calib.sweep import generate_sweep, harmonic_delay_s, sweep_start_index
from calib.types import ImpulseResponse, Measurement

__all__ = [
    "deconvolve",
    "deconvolve_arrays",
    "band_filter",
    "find_arrival_samples",
    "DeconvolutionResult",
]

EPS_SWEEP = 1e-8     # Kirkeby beta relative to max|X|^2 (in-band error < 1e-8*f2/f1 ~ 1e-4 dB)
EPS_REFERENCE = 1e-6  # beta relative to max|G|^2 for the loopback correction (|G| ~ 1 in band)


NOISE_FLOOR_DBFS = -150.0  # RMS; below a 24-bit converter's quantisation noise (2^-23/sqrt(12) = -149.3 dBFS)
HP_ORDER = 8  # order of the causal Butterworth high-pass at f1 (see band_filter)


def _highpass(freqs_hz: np.ndarray, f_lo_hz: float) -> np.ndarray:
    """The analog Butterworth high-pass of :func:`band_filter` on ``freqs_hz`` (complex)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    # written as s^N / B_N(s) with B_N's real coefficients (Horner), and s^N = (f/f1)^N for N = 8
    _z, poles, _k = signal.buttap(HP_ORDER)
    den = np.real(np.poly(poles))
    hp = np.polyval(den, 1j * (f / f_lo_hz))
    np.divide((f / f_lo_hz) ** HP_ORDER * (1j ** HP_ORDER).real, hp, out=hp)
    return hp


def _arrival_zero_phase(row: np.ndarray, *, fs: int, f_lo_hz: float) -> float:
    """Arrival of an IR after undoing the causal high-pass's phase (an all-pass), so the
    band-limited impulse is symmetric again and its envelope peaks exactly at the delay."""
    n = sfft.next_fast_len(2 * row.size, real=True)
    f = sfft.rfftfreq(n, 1.0 / fs)
    hp = _highpass(f, f_lo_hz)
    mag = np.abs(hp)
    ap = np.ones_like(hp)
    ok = mag > 1e-12
    ap[ok] = np.conj(hp[ok]) / mag[ok]
    zp = sfft.irfft(sfft.rfft(row, n) * ap, n)
    # the all-pass's inverse is anti-causal: keep a guard before index 0 (wrapped to the end)
    guard = min(row.size // 2, int(0.2 * fs))
    z = np.concatenate([zp[n - guard:], zp[: row.size]])
    return find_arrival_samples(z) - guard


def band_filter(freqs_hz: np.ndarray, f_lo_hz: float, f_hi_hz: float, *, fs: int,
                skirt_oct: float = 1.0 / 6.0) -> np.ndarray:
    """Complex band limit applied to every deconvolved response (STANDARDS.md §1.5).

    Low end: an analog 8th-order Butterworth high-pass at ``f_lo_hz`` (causal, minimum phase):
    a zero-phase low skirt would ring for hundreds of milliseconds *before* the impulse, and
    cutting the IR a few ms before the direct sound would then bend the response by ~1 dB up to
    100 Hz.  Its magnitude is ``1/sqrt(1 + (f1/f)^16)``: -3 dB at f1, -0.007 dB at 1.5 f1,
    -0.0001 dB at 2 f1, -48 dB at f1/2.
    High end: zero phase (a symmetric, short kernel, so onsets stay exact), 1 up to
    ``f_hi_hz * 2**-skirt_oct``, raised cosine (log frequency) to 0 at ``min(f_hi_hz, fs/2)``.
    The skirt lies inside the swept band so the inverse never divides by the near-zero
    spectrum beyond the sweep's end.

    Parameters
    ----------
    freqs_hz : ndarray
        Frequencies (Hz), ``>= 0``.
    f_lo_hz, f_hi_hz : float
        The swept band (Hz).
    fs : int
        Sample rate (Hz).
    skirt_oct : float
        Width of the high skirt (octaves).

    Returns
    -------
    ndarray, complex, same shape as ``freqs_hz``
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    w = np.zeros(f.shape, dtype=np.float64)
    pos = f > 0
    lf = np.full_like(f, -np.inf)
    lf[pos] = np.log2(f[pos])
    hi = math.log2(min(f_hi_hz, fs / 2))
    s = min(skirt_oct, (hi - math.log2(f_lo_hz)) / 4)
    w[pos & (lf <= hi - s)] = 1.0
    m = (lf > hi - s) & (lf < hi)
    w[m] = 0.5 * (1 - np.cos(np.pi * (hi - lf[m]) / s))
    # analog Butterworth high-pass H(s) = s^N / B_N(s), evaluated at s = j f / f1
    # (s -> 1/s maps the prototype's poles onto their conjugates, the same set; prod(-p) = 1)
    return w * _highpass(f, f_lo_hz)


def _sinc_interp(x: np.ndarray, t: np.ndarray, half: int = 32) -> np.ndarray:
    """Band-limited (Kaiser-windowed sinc) interpolation of ``x`` at fractional positions ``t``."""
    out = np.zeros(t.shape, dtype=x.dtype)
    n0 = np.floor(t).astype(int)
    wnd = np.kaiser(2 * half + 1, 8.0)  # symmetric window, centre at index `half`
    for j in range(-half + 1, half + 1):
        idx = n0 + j
        d = t - idx
        ok = (idx >= 0) & (idx < x.size)
        # window value at offset d (linear interpolation of the tabulated window)
        pos = np.clip(d + half, 0, 2 * half)
        wv = np.interp(pos, np.arange(2 * half + 1), wnd)
        out[ok] += x[idx[ok]] * np.sinc(d[ok]) * wv[ok]
    return out


def find_arrival_samples(ir: np.ndarray, *, search_from: int = 0, threshold_db: float = -20.0,
                         peak_db: float = -6.0) -> float:
    """Sub-sample index of the direct sound in an impulse response.

    The direct sound is the first local maximum of the analytic-signal envelope, after the
    envelope first rises to ``threshold_db`` below its maximum (ISO 3382-1 onset idea,
    STANDARDS.md §2.2), that is no more than ``-peak_db`` below the maximum.  The position is
    refined to ~0.01 sample with band-limited interpolation of the analytic signal (for a
    band-limited impulse at fractional delay ``D`` the envelope is symmetric about ``D``).

    Parameters
    ----------
    ir : ndarray, shape (n,)
    search_from : int
        Ignore samples before this index.

    Returns
    -------
    float
        Index in ``ir`` (NaN for an all-zero IR).
    """
    h = np.asarray(ir, dtype=np.float64)
    if h.ndim != 1 or h.size < 4:
        raise SignalError(f"arrival detection needs a 1-D IR of at least 4 samples, got shape {h.shape}")
    a = signal.hilbert(h)
    env = np.abs(a)
    env[:search_from] = 0.0
    m = float(env.max())
    if not m > 0:
        return float("nan")
    first = int(np.argmax(env >= m * 10 ** (threshold_db / 20)))
    need = m * 10 ** (peak_db / 20)
    cand = int(np.argmax(env))
    for i in range(max(first, 1), h.size - 1):
        if env[i] >= need and env[i] >= env[i - 1] and env[i] >= env[i + 1]:
            cand = i
            break
    grid = cand + np.linspace(-1.0, 1.0, 201)
    e = np.abs(_sinc_interp(a, grid))
    j = int(np.argmax(e))
    if 0 < j < grid.size - 1:  # parabolic refinement on the fine grid
        y0, y1, y2 = e[j - 1], e[j], e[j + 1]
        den = y0 - 2 * y1 + y2
        off = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        return float(grid[j] + off * (grid[1] - grid[0]))
    return float(grid[j])


_INVERSE_CACHE: "OrderedDict[tuple, tuple[np.ndarray, np.ndarray]]" = OrderedDict()
_INVERSE_CACHE_SIZE = 4


def _inverse_spectrum(x: np.ndarray, *, n_fft: int, fs: int, f_lo_hz: float,
                      f_hi_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(D, W)``: the regularised inverse of the sweep ``x`` and the band limit on the rfft grid
    of ``n_fft``.  Cached (by the sweep's bytes and the grid) because every capture of a
    session uses the same sweep -- the counterpart of a precomputed inverse-filter file."""
    key = (hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest(), int(n_fft), int(fs),
           float(f_lo_hz), float(f_hi_hz))
    hit = _INVERSE_CACHE.get(key)
    if hit is not None:
        _INVERSE_CACHE.move_to_end(key)
        return hit
    freqs = sfft.rfftfreq(n_fft, 1.0 / fs)
    X = sfft.rfft(x, n_fft)
    P = X.real ** 2 + X.imag ** 2
    W = band_filter(freqs, f_lo_hz, f_hi_hz, fs=fs)
    D = np.conj(X)
    D *= W
    D /= P + EPS_SWEEP * P.max()     # Kirkeby, STANDARDS.md §1.5
    D.setflags(write=False)
    W.setflags(write=False)
    _INVERSE_CACHE[key] = (D, W)
    while len(_INVERSE_CACHE) > _INVERSE_CACHE_SIZE:
        _INVERSE_CACHE.popitem(last=False)
    return D, W


@dataclass(frozen=True)
class DeconvolutionResult:
    """Arrays from :func:`deconvolve_arrays` (see that function)."""

    linear: np.ndarray                  # (n_ch, n_ir)
    harmonics: dict[int, np.ndarray]    # order -> (n_ch, n_k)
    onset_samples: int
    arrival_samples: tuple[float, ...]
    latency_samples: float
    snr_db: tuple[float, ...]
    snr_floor_limited: tuple[bool, ...] = ()   # per channel: pre-roll below NOISE_FLOOR_DBFS


def _check_rec(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise SignalError(f"{name} must be (n_channels, n_samples) with samples, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SignalError(f"{name} contains NaN or Inf samples; the capture is damaged")
    return arr


def deconvolve_arrays(recording: np.ndarray, *, fs: int, sweep: np.ndarray, sweep_start: int,
                      f_lo_hz: float, f_hi_hz: float, reference: np.ndarray | None = None,
                      rate_l_s: float | None = None, n_harmonics: int = 5,
                      ir_length_samples: int | None = None,
                      pre_samples: int | None = None) -> DeconvolutionResult:
    """Deconvolve raw captures by the sweep that was played.

    Parameters
    ----------
    recording : ndarray, shape (n_ch, n)
        Mic captures (row ``i`` = speaker ``i``), float, full scale 1.0.
    fs : int
        Sample rate (Hz).
    sweep : ndarray, shape (m,)
        The sweep alone as played (with its level and fades).
    sweep_start : int
        Index in ``recording`` at which the sweep left the output (the pre-roll length).
    f_lo_hz, f_hi_hz : float
        The swept band (Hz); outside it the result is band-limited (§1.5).
    reference : ndarray, shape (n_ch, n), optional
        Loopback captures recorded with each row; removes latency and interface response.
    rate_l_s : float, optional
        Sweep rate ``L`` (s); needed for harmonic IRs (none without it).
    n_harmonics : int
        Highest harmonic order extracted (orders ``2..n_harmonics``; 0 or 1 for none).
    ir_length_samples : int, optional
        Length of the linear IRs; default: pre-delay + the silence recorded after the sweep
        minus the latency (the longest length free of truncation).
    pre_samples : int, optional
        Samples kept before the time origin (``onset_samples``); default 5 ms, at most
        half of ``L ln 2``.

    Raises
    ------
    SignalError
        Empty/non-finite input, a recording shorter than the sweep, a requested IR length
        longer than the recorded tail, a loopback that carries no sweep.
    """
    fs = int(fs)
    rec = _check_rec(recording, "recording")
    x = np.asarray(sweep, dtype=np.float64).ravel()
    if x.size < 16 or not np.all(np.isfinite(x)) or not np.any(x):
        raise SignalError("the sweep is empty, silent or contains NaN/Inf")
    n_ch, n_rec = rec.shape
    if sweep_start < 0 or sweep_start + x.size > n_rec:
        raise SignalError(
            f"the recording has {n_rec} samples ({n_rec / fs:.3f} s) but the sweep needs "
            f"{sweep_start + x.size} ({(sweep_start + x.size) / fs:.3f} s); record the whole sweep"
        )
    ref = None
    if reference is not None:
        ref = _check_rec(reference, "loopback reference")
        if ref.shape != rec.shape:
            raise SignalError(f"loopback reference shape {ref.shape} differs from recording shape {rec.shape}")

    n_fft = sfft.next_fast_len(n_rec + x.size, real=True)
    freqs = sfft.rfftfreq(n_fft, 1.0 / fs)
    D, W = _inverse_spectrum(x, n_fft=n_fft, fs=fs, f_lo_hz=f_lo_hz, f_hi_hz=f_hi_hz)
    # lag `origin` of the deconvolved sequence is the time origin: the sweep's start (the
    # loopback correction below divides that delay out together with the latency)
    origin = sweep_start

    Y = sfft.rfft(rec, n_fft, axis=-1) * D
    latency = 0.0
    C = None
    if ref is not None:
        G = sfft.rfft(ref, n_fft, axis=-1) * D
        g = sfft.irfft(G, n_fft, axis=-1)
        peak_g = np.max(np.abs(g), axis=-1)
        if np.any(peak_g < 1e-3):
            raise SignalError(
                f"the loopback reference carries no sweep (its IR peaks at {20 * np.log10(peak_g.min() + 1e-300):.0f} dB); "
                "check the loopback cable and the loopback input channel (room.toml interface.loopback_input)"
            )
        # interface latency: arrival of the loopback IR (causal part only)
        # (found in a 0.5 s window around the loopback IR's peak; lags are relative to the
        # sweep's start, and an arrival at lag 0 keeps its band-limited pre-ringing)
        half_w = min(int(0.25 * fs), n_fft // 4)
        lats = []
        for gi in g:
            pk = int(np.argmax(np.abs(gi)))
            idx_w = (np.arange(-half_w, half_w) + pk) % n_fft
            lats.append(_arrival_zero_phase(gi[idx_w], fs=fs, f_lo_hz=f_lo_hz) - half_w + pk - sweep_start)
        lats = [((v + n_fft / 2) % n_fft) - n_fft / 2 for v in lats]   # a lag, not an index
        latency = float(np.median(lats))
        PG = np.abs(G) ** 2
        # G already carries the band window W; the extra W keeps the result at H*W (without
        # it the division would undo the band limit)
        C = W * np.conj(G) / (PG + EPS_REFERENCE * PG.max(axis=-1, keepdims=True))
        Y = Y * C
        origin = 0
    # default pre-delay and lengths
    if pre_samples is None:
        pre_samples = int(round(0.005 * fs))
        if rate_l_s:
            pre_samples = min(pre_samples, int(rate_l_s * math.log(2) * fs / 2))
    pre = max(int(pre_samples), 0)
    tail_avail = n_rec - sweep_start - x.size - int(math.ceil(latency - 0.05))
    if ir_length_samples is None:
        n_ir = pre + max(tail_avail, 0)
    else:
        n_ir = int(ir_length_samples)
        if n_ir > pre + tail_avail + 1:
            raise SignalError(
                f"an IR of {n_ir / fs:.3f} s needs that much silence recorded after the sweep, "
                f"but only {max(tail_avail, 0) / fs:.3f} s was recorded; record a longer tail or ask for a shorter IR"
            )
    if n_ir < max(pre + 16, 32):
        raise SignalError(
            f"only {max(tail_avail, 0) / fs:.3f} s was recorded after the sweep; need a tail of at "
            "least a few milliseconds (longer than the room's decay) to get an impulse response"
        )

    d = sfft.irfft(Y, n_fft, axis=-1)
    idx = (np.arange(n_ir) - pre + origin) % n_fft
    lin = d[:, idx]

    harmonics: dict[int, np.ndarray] = {}
    if rate_l_s and n_harmonics >= 2:
        for k in range(2, int(n_harmonics) + 1):
            tau = rate_l_s * math.log(k) * fs          # samples before the linear IR
            n_k = int(math.floor(rate_l_s * math.log(k / (k - 1)) * fs)) - pre
            n_k = min(n_k, n_ir)
            if n_k < 32:
                break
            tau_int = math.floor(tau)
            frac = tau - tau_int
            # delay by frac so that integer index (-tau_int) holds the value at -tau
            Yk = Y * np.exp(-2j * np.pi * freqs * frac / fs)
            dk = sfft.irfft(Yk, n_fft, axis=-1)
            idx_k = (np.arange(n_k) - pre - tau_int + origin) % n_fft
            harmonics[k] = dk[:, idx_k]

    arrivals = tuple(_arrival_zero_phase(row, fs=fs, f_lo_hz=f_lo_hz) for row in lin)

    # SNR from the pre-roll: predicted IR noise variance (Parseval) vs IR peak
    snr: list[float] = []
    limited: list[bool] = []
    n_pre = sweep_start
    if n_pre >= 64:
        # one-sided noise PSD (Welch) on the fine grid, times the filter's power response
        noise = rec[:, :n_pre]
        nper = min(4096, n_pre)
        f_w, S = signal.welch(noise, fs=fs, nperseg=nper, detrend="constant", axis=-1)
        filt = np.broadcast_to(np.abs(D) ** 2 if C is None else np.abs(D * C) ** 2, (n_ch, freqs.size))
        df = fs / n_fft
        floor_var = 10 ** (NOISE_FLOOR_DBFS / 10)
        rms2 = np.mean((noise - noise.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
        for i in range(n_ch):
            if rms2[i] < floor_var:
                # digitally silent (or round-off only): white noise at the floor, one-sided PSD 2 s^2/fs
                S[i] = 2 * floor_var / fs
                limited.append(True)
            else:
                limited.append(False)
        var = np.array([np.sum(np.interp(freqs, f_w, S[i]) * filt[i]) * df for i in range(n_ch)])
        for i in range(n_ch):
            pk = float(np.max(np.abs(lin[i])))
            snr.append(10 * math.log10(pk**2 / var[i]) if var[i] > 0 and pk > 0 else float("nan"))
    else:
        snr = [float("nan")] * n_ch

    return DeconvolutionResult(
        linear=lin,
        harmonics=harmonics,
        onset_samples=pre,
        arrival_samples=arrivals,
        latency_samples=latency,
        snr_db=tuple(snr),
        snr_floor_limited=tuple(limited),
    )


def deconvolve(measurement: Measurement, *, n_harmonics: int = 5,
               ir_length_s: float | None = None) -> ImpulseResponse:
    """Impulse responses (linear + harmonic) of a :class:`Measurement`.

    Parameters
    ----------
    measurement : Measurement
        Raw captures made with :func:`calib.sweep.build_stimulus` of ``measurement.sweep``
        (the sweep starts at the pre-roll); ``reference`` (loopback) optional.
    n_harmonics : int
        Highest harmonic order (orders 2..n_harmonics), STANDARDS.md §1.2.
    ir_length_s : float, optional
        Linear IR length (s) counted from the start of the array; default: the pre-delay plus
        the silence recorded after the sweep.

    Returns
    -------
    ImpulseResponse
        ``samples[:, onset_samples]`` is the time origin (the sweep leaving the output, latency
        removed when a loopback was recorded).  ``arrival_samples[i] - onset_samples`` is the
        propagation delay of channel ``i`` (plus the unknown latency without a loopback).
        ``harmonics[k]`` has the same pre-delay: its index ``onset_samples`` is the origin of
        harmonic ``k``.  ``latency_samples`` is the interface latency found (0.0 if unknown).

    Raises
    ------
    SignalError
        See :func:`deconvolve_arrays`.
    """
    spec = measurement.sweep
    res = deconvolve_arrays(
        measurement.recording,
        fs=measurement.fs,
        sweep=generate_sweep(spec),
        sweep_start=sweep_start_index(spec),
        f_lo_hz=spec.f_start_hz,
        f_hi_hz=spec.f_stop_hz,
        reference=measurement.reference,
        rate_l_s=spec.rate_l_s,
        n_harmonics=n_harmonics,
        ir_length_samples=None if ir_length_s is None else int(round(ir_length_s * measurement.fs)),
    )
    meta = dict(measurement.meta)
    meta.setdefault("sweep", spec.to_dict())
    meta["harmonic_delay_s"] = {k: harmonic_delay_s(spec, k) for k in res.harmonics}
    if any(res.snr_floor_limited):
        # these channels' snr_db is a lower bound (noiseless pre-roll, see NOISE_FLOOR_DBFS)
        meta["snr_lower_bound"] = [n for n, f in zip(measurement.channel_names, res.snr_floor_limited) if f]
    return ImpulseResponse(
        samples=res.linear,
        fs=measurement.fs,
        channel_names=measurement.channel_names,
        onset_samples=res.onset_samples,
        arrival_samples=res.arrival_samples,
        latency_samples=res.latency_samples,
        harmonics=res.harmonics,
        snr_db=res.snr_db,
        source_id=str(measurement.meta.get("id", "")),
        meta=meta,
    )
