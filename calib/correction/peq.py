"""Parametric EQ optimizer: narrow cuts sized to a peak's prominence, broad filters limited.

The rule (STANDARDS.md §7.4: cut peaks, do not fill nulls; correct the modal region)
--------------------------------------------------------------------------------------
The desired correction ``c(f)`` (dB, negative = cut; from :func:`calib.correction.multiseat.
combine_seats`, at the target's automatic level) is decomposed on the log-frequency design grid
as ``c ≈ B + N``:

* ``B(f)``, the **baseline**: a smooth curve (piecewise linear on log2 f, knots every
  :data:`BASELINE_KNOT_OCTAVES`, second differences penalised) — what the room does beneath
  its modes, e.g. room gain;
* ``N(f)``, **narrow cuts**: peaking cuts (Q >= :data:`NARROW_Q_MIN`), one per peak of the
  room response (a peaking cut of the mode's f0 and Q approximates the modal peak,
  STANDARDS.md §4.3).

Both are fitted together (bounded nonlinear least squares with a soft-L1 loss), so two modes
closer than their skirts' width do not lift the baseline: the skirts belong to the cuts.  The
fit is told three things beyond the data: where the room lies *below* the model (a dip or a
null) a residual weighs :data:`BASELINE_DIP_WEIGHT` (the baseline rests on the floor between
the peaks, not in the nulls); a small ridge on each cut's gain times the square root of its
width (:data:`BASELINE_CUT_RIDGE`: of two explanations that fit alike, the one with the
smaller and narrower cuts wins); and a cut must sit within 1/12 octave of a peak of the room
with at least :data:`MODE_MIN_PROMINENCE_DB` prominence (``scipy.signal.find_peaks``), else
it is dropped and the fit repeated (a plateau is the baseline's).

The correction is then

    broad(f)  = clip( B(f), −broad_max_cut_db, 0 )                    (wide filters)
    narrow(f) = c(f) − min(B(f), 0)                                    (narrow filters)

Where the baseline lies above the target (``B < 0``, room gain), each peak is cut by its
prominence above the baseline, and the baseline itself by at most ``broad_max_cut_db`` (3 dB)
with at most ``n_broad`` wide peaking cuts (Q <= ``q_broad_max`` = 1.5): the rest is the room's
balance, the target's business (``house`` carries a low-frequency rise), not EQ's.  Where the
baseline lies below the target, the correction is the whole of ``c`` (cutting a peak down to a
baseline below the target would dig its band below the target, and the design's 1 dB
no-regression check would take it back); boosts there stay within the boost limit ``b(f) =
min(boost allowed by every seat, max_boost_db)``.  With ``broad_max_cut_db = max_cut_db`` the
broad balance is corrected as far as the filters reach.

Fitting
-------
1. decomposition (above), started from the peaks below a robust symmetric trend
   (:func:`local_trend_db`);
2. broad stage: greedy wide cuts on ``broad`` (largest remaining error first, Q from its
   half-height width, clipped to the broad range);
3. narrow stage on ``clip(narrow, −max_cut_db, b)`` over the fixed broad cascade (the narrow
   filters do not make up for the broad filters' misfit): the decomposition's cuts as the
   start, then greedy placement of the largest remaining peak (a cut at its frequency with the
   Q of its half-height width) or, only where every seat lies below the target, a broad boost;
   joint refinement of all narrow filters (frequency, gain, Q within their kind's bounds) by
   ``scipy.optimize.least_squares`` (trust-region reflective, LSMR sub-solver), with a penalty
   wherever the cascade boosts more than the seats allow and outside the correction range.
   Two starts (the cuts where ``B < 0`` only, and all of them); the better fit wins.

Filters are :class:`calib.profile.Biquad` (RBJ cookbook, STANDARDS.md §7.1); their response
here is the exact digital response at ``fs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import find_peaks

from calib.errors import ConfigError
from calib.profile import Biquad

__all__ = ["PeqSettings", "biquad_response_db", "peq_response_db", "optimize_peq", "local_trend_db",
           "TREND_SIGMA_OCTAVES", "TREND_CLIP_DB"]

#: Width (σ, octaves) of the Gaussian log-frequency window of the local trend [practice, our choice:
#: wide against a mode (a Q 4 mode's −3 dB width is 0.36 octave), narrow against room gain].
TREND_SIGMA_OCTAVES: float = 0.5
#: Huber clip (dB) of the robust trend: residuals beyond ±this weigh as ±this.
TREND_CLIP_DB: float = 0.5

#: Smallest prominence (dB, scipy.signal.find_peaks) of a response peak that a cut of the
#: decomposition may sit on (within 1/12 octave): plateaus and skirts are the baseline's.
MODE_MIN_PROMINENCE_DB: float = 1.0
#: Knot spacing (octaves) of the baseline's piecewise-linear shape on log f.
BASELINE_KNOT_OCTAVES: float = 1 / 3
#: Weight of the baseline's curvature penalty (second differences of the knots, per grid point).
BASELINE_CURVATURE_WEIGHT: float = 0.05
#: Lowest Q of a cut in the decomposition (room modes below 300 Hz: Q 3–20; lower-Q bumps belong
#: to the baseline).
NARROW_Q_MIN: float = 4.0
#: Ridge weight on the decomposition's cut gains (per dB²): of a lower baseline with bigger cuts and a
#: higher one with smaller cuts that fit alike, the second wins.
BASELINE_CUT_RIDGE: float = 0.01
#: Weight (of 1) of the decomposition's residuals where the room lies below the model (dips, nulls):
#: the baseline rests on the floor between the peaks, not in the dips [our choice].
BASELINE_DIP_WEIGHT: float = 0.1
#: Scale (dB) of the robust (soft L1) loss of the decomposition: residuals beyond it weigh less.
BASELINE_LOSS_SCALE_DB: float = 1.0

_CUT, _BOOST, _BROAD = -1, 1, 0  # filter kinds: narrow cut, narrow boost, broad (either sign)


@dataclass(frozen=True)
class PeqSettings:
    """Limits of the PEQ optimizer.

    Parameters
    ----------
    n_max : int
        Most filters used, broad ones included (0 disables the PEQ).
    max_boost_db : float
        Largest boost of the cascade at any frequency (dB, default +3, STANDARDS.md §7.4).
    max_cut_db : float
        Deepest single cut (dB, positive number).
    q_min, q_max : float
        Q range of cuts.
    q_boost_max : float
        Highest Q of a boost (boosts stay broad).
    min_gain_db : float
        Filters smaller than this are dropped; errors smaller than this are left alone.
    broad_max_cut_db : float
        Deepest cut of the baseline where it lies above the target (room gain; dB, positive;
        module docstring).  Default 3 dB; 0 leaves the broad balance entirely to the target,
        ``max_cut_db`` corrects it as far as the broad filters reach.
    n_broad : int
        Most broad filters (part of ``n_max``).
    q_broad_max : float
        Highest Q of a broad filter.
    """

    n_max: int = 10
    max_boost_db: float = 3.0
    max_cut_db: float = 15.0
    q_min: float = 0.5
    q_max: float = 16.0
    q_boost_max: float = 5.0
    min_gain_db: float = 0.5
    broad_max_cut_db: float = 3.0
    n_broad: int = 2
    q_broad_max: float = 1.5

    def __post_init__(self) -> None:
        if not (0 <= self.n_max <= 64):
            raise ConfigError(f"--peq {self.n_max} filters is outside 0..64")
        if not (0 <= self.max_boost_db <= 12):
            raise ConfigError(f"--max-boost-db {self.max_boost_db} is outside 0..12 dB")
        if not (0 < self.max_cut_db <= 30):
            raise ConfigError(f"maximum cut {self.max_cut_db} dB is outside 0..30 dB")
        if not (0.1 <= self.q_min < self.q_max <= 50):
            raise ConfigError(f"Q range {self.q_min}..{self.q_max} is invalid; need 0.1 <= min < max <= 50")
        if not (0 <= self.broad_max_cut_db <= self.max_cut_db):
            raise ConfigError(f"broad cut limit {self.broad_max_cut_db} dB is outside 0..{self.max_cut_db} dB "
                              "(the maximum cut)")
        if not (0 <= self.n_broad <= 64):
            raise ConfigError(f"{self.n_broad} broad filters is outside 0..64")
        if not (self.q_min <= self.q_broad_max <= self.q_max):
            raise ConfigError(f"broad Q limit {self.q_broad_max} is outside the Q range {self.q_min}..{self.q_max}")


def _peaking_coeffs(f0_hz: np.ndarray, gain_db: np.ndarray, q: np.ndarray, fs: int):
    # RBJ peaking EQ (STANDARDS.md §7.1), vectorised over filters.
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0_hz / fs
    alpha = np.sin(w0) / (2.0 * q)
    cw = np.cos(w0)
    return (1 + alpha * A, -2 * cw, 1 - alpha * A), (1 + alpha / A, -2 * cw, 1 - alpha / A)


def _cascade_db(f0_hz, gain_db, q, freqs_hz, fs) -> np.ndarray:
    if len(f0_hz) == 0:
        return np.zeros_like(freqs_hz)
    (b0, b1, b2), (a0, a1, a2) = _peaking_coeffs(np.asarray(f0_hz)[:, None], np.asarray(gain_db)[:, None],
                                                 np.asarray(q)[:, None], fs)
    z1 = np.exp(-1j * 2 * np.pi * freqs_hz / fs)[None, :]
    z2 = z1 * z1
    num = b0 + b1 * z1 + b2 * z2
    den = a0 + a1 * z1 + a2 * z2
    return (20.0 * np.log10(np.abs(num) / np.abs(den))).sum(axis=0)


def biquad_response_db(bq: Biquad, freqs_hz: np.ndarray, *, fs: int) -> np.ndarray:
    """Exact magnitude (dB) of one biquad at ``fs`` evaluated at ``freqs_hz``."""
    s = bq.sos(fs=fs)
    z1 = np.exp(-1j * 2 * np.pi * np.asarray(freqs_hz, dtype=np.float64) / fs)
    num = s[0] + s[1] * z1 + s[2] * z1 * z1
    den = s[3] + s[4] * z1 + s[5] * z1 * z1
    return 20.0 * np.log10(np.maximum(np.abs(num), 1e-300) / np.abs(den))


def peq_response_db(peq: Sequence[Biquad], freqs_hz: np.ndarray, *, fs: int) -> np.ndarray:
    """Magnitude (dB) of a biquad cascade at ``freqs_hz`` (Hz) for sample rate ``fs``."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    out = np.zeros_like(f)
    for bq in peq:
        out += biquad_response_db(bq, f, fs=fs)
    return out


def local_trend_db(freqs_hz: np.ndarray, curve_db: np.ndarray, *, sigma_octaves: float = TREND_SIGMA_OCTAVES,
                   clip_db: float = TREND_CLIP_DB, n_iter: int = 200) -> np.ndarray:
    """Robust local trend of a curve on a log-frequency grid (module docstring).

    Gaussian smoothing on log2 f (σ = ``sigma_octaves``, the window renormalised at the grid's
    ends), iterated as a Huber M-smoother: each pass smooths ``t + clip(curve − t, ±clip_db)``
    with ``t`` the previous trend, until the trend moves by less than 1e-4 dB.  Peaks and dips
    narrower than the window therefore weigh at most ``clip_db`` each.

    Parameters
    ----------
    freqs_hz : ndarray, shape (n,)
        Increasing frequencies (Hz, > 0), typically log-spaced.
    curve_db : ndarray, shape (n,)
        The curve (dB).

    Returns
    -------
    ndarray, shape (n,)
        The trend (dB).
    """
    x = np.log2(np.asarray(freqs_hz, dtype=np.float64))
    c = np.asarray(curve_db, dtype=np.float64)
    k = np.exp(-0.5 * ((x[:, None] - x[None, :]) / sigma_octaves) ** 2)
    k /= k.sum(axis=1, keepdims=True)
    t = k @ c
    for _ in range(n_iter):
        t_new = k @ (t + np.clip(c - t, -clip_db, clip_db))
        if np.max(np.abs(t_new - t)) < 1e-4:
            return t_new
        t = t_new
    return t


def _half_height_q(freqs_hz: np.ndarray, err: np.ndarray, i: int, q_lo: float, q_hi: float) -> float:
    """Q of a peak of ``err`` at index ``i`` from its half-height width (Q = f0 / B)."""
    half = err[i] / 2.0
    j = i
    while j > 0 and err[j] > half:
        j -= 1
    k = i
    while k < err.size - 1 and err[k] > half:
        k += 1
    bw = freqs_hz[k] - freqs_hz[j]
    if bw <= 0:
        return q_hi
    return float(np.clip(freqs_hz[i] / bw, q_lo, q_hi))


def optimize_peq(freqs_hz: np.ndarray, desired_db: np.ndarray, boost_allowed_db: np.ndarray, *,
                 fs: int, settings: PeqSettings, lo_hz: float, hi_hz: float,
                 weight: np.ndarray | None = None, fade: np.ndarray | None = None,
                 diagnostics: dict | None = None) -> list[Biquad]:
    """Fit up to ``settings.n_max`` peaking filters to a desired correction curve.

    Narrow filters are sized to each peak's prominence above the baseline where the baseline
    lies above the target; the baseline itself is cut by at most ``settings.broad_max_cut_db``
    (module docstring).

    Parameters
    ----------
    freqs_hz : ndarray, shape (n,)
        Log-spaced design grid (Hz).
    desired_db : ndarray, shape (n,)
        The correction the seats agree on (dB; negative = cut), e.g. from
        :func:`calib.correction.multiseat.combine_seats`.  Already zero where seats disagree.
    boost_allowed_db : ndarray, shape (n,)
        Largest boost every seat tolerates at each frequency (>= 0 dB).
    fs : int
        Sample rate the biquads run at (Hz).
    settings : PeqSettings
    lo_hz, hi_hz : float
        Correction range; filter centres stay inside it.
    weight : ndarray, shape (n,), optional
        Per-point weight of the fit (e.g. seat agreement), default 1.
    fade : ndarray, shape (n,), optional
        Range fade (0..1) to apply to ``desired_db`` (default none).  The decomposition is
        taken of the un-faded curve and faded afterwards, so the fade at the range ends is not
        mistaken for a peak.
    diagnostics : dict, optional
        Filled with ``"baseline_db"`` (``B`` on ``freqs_hz``, dB, un-faded; negative where the
        room's baseline lies above the target) and ``"cuts"`` (the decomposition's cuts as
        ``(f0_hz, gain_db, q)``).

    Returns
    -------
    list of Biquad
        Peaking filters sorted by frequency: broad cuts (Q <= ``q_broad_max``) and narrow ones.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    c_raw = np.asarray(desired_db, dtype=np.float64)
    fd = np.ones_like(f) if fade is None else np.asarray(fade, dtype=np.float64)
    allow = np.minimum(np.asarray(boost_allowed_db, dtype=np.float64), settings.max_boost_db)
    w = np.ones_like(f) if weight is None else np.sqrt(np.clip(weight, 0.0, None))
    inside = (f >= lo_hz) & (f <= hi_hz)
    f_top = min(hi_hz, 0.45 * fs)
    if settings.n_max == 0 or not inside.any():
        return []
    # the broad goal returns to 0 dB over half an octave outside the range (raised cosine on log f)
    out_oct = np.maximum(np.log2(lo_hz / f), np.log2(f / hi_hz))
    out_fade = 0.5 * (1.0 + np.cos(np.pi * np.clip(out_oct / 0.5, 0.0, 1.0)))
    zero = np.zeros_like(f)
    # a narrow cut is narrower than any broad filter (its Q above q_broad_max)
    q_cut_min = max(settings.q_min, min(settings.q_broad_max * 1.001, settings.q_max / 1.001))

    def unpack(x):
        x = np.asarray(x).reshape(-1, 3)
        return np.exp(x[:, 0]), x[:, 1], np.exp(x[:, 2])

    def cascade(x) -> np.ndarray:
        return _cascade_db(*unpack(x), f, fs) if len(x) else np.zeros_like(f)

    def residuals(x, goal, offset):
        p = offset + cascade(x)
        r_fit = w * (p - goal)
        r_boost = 4.0 * np.maximum(p - allow, 0.0)  # never boost past what all seats tolerate
        r_out = 0.5 * np.where(inside, 0.0, p)  # stay quiet outside the range
        return np.concatenate([r_fit, r_boost, r_out])

    def bounds(ks):
        lo, hi = [], []
        for kind in ks:
            g_lo = {_CUT: -settings.max_cut_db, _BOOST: 0.0, _BROAD: -settings.broad_max_cut_db}[kind]
            g_hi = settings.max_boost_db if kind == _BOOST else 0.0
            q_hi = {_CUT: settings.q_max, _BOOST: settings.q_boost_max, _BROAD: settings.q_broad_max}[kind]
            q_lo = q_cut_min if kind == _CUT else settings.q_min
            lo += [math.log(lo_hz), g_lo, math.log(q_lo)]
            hi += [math.log(f_top), max(g_hi, g_lo + 1e-6), math.log(max(q_hi, settings.q_min * 1.001))]
        return np.array(lo), np.array(hi)

    def greedy(goal, offset, n, pick, init=()):
        """Up to ``n`` filters after the ``init`` ones (narrow cuts), each placed by
        ``pick(err) -> (kind, index, gain, q) | None`` and fitted alone (the earlier ones fixed) to
        ``goal`` on top of ``offset``."""
        params: list[list[float]] = [list(p) for p in init][:n]  # [ln f0, gain, ln q]
        kinds: list[int] = [_CUT] * len(params)
        for _ in range(n - len(params)):
            x = np.array(params).reshape(-1)
            choice = pick(goal - offset - cascade(x))
            if choice is None:
                break
            kind, i, gain, qv = choice
            lo, hi = bounds([kind])
            x_new = np.clip(np.array([math.log(min(max(f[i], lo_hz), f_top)), gain, math.log(qv)]),
                            lo + 1e-9, hi - 1e-9)
            x_new = least_squares(lambda y: residuals(np.concatenate([x, y]), goal, offset), x_new,
                                  bounds=(lo, hi), method="trf", x_scale="jac", tr_solver="lsmr", max_nfev=80).x
            params.append(list(x_new))
            kinds.append(kind)
        return params, kinds

    def pick_broad(err):
        err_in = np.where(inside, err, 0.0) * w
        i = int(np.argmin(err_in))
        if -err_in[i] < settings.min_gain_db:
            return None
        return _BROAD, i, float(err_in[i]), _half_height_q(f, -err, i, settings.q_min, settings.q_broad_max)

    def pick_narrow(err):
        err_in = np.where(inside, err, 0.0) * w
        i_cut, i_boost = int(np.argmin(err_in)), int(np.argmax(err_in))
        cut_size, boost_size = -err_in[i_cut], err_in[i_boost]
        if max(cut_size, boost_size) < settings.min_gain_db:
            return None
        if cut_size >= boost_size:
            return _CUT, i_cut, -cut_size, _half_height_q(f, -err, i_cut, q_cut_min, settings.q_max)
        return _BOOST, i_boost, boost_size, _half_height_q(f, err, i_boost, settings.q_min, settings.q_boost_max)

    def decompose():
        """``c_raw ≈ B + N``: a smooth baseline ``B`` and up to ``n_max`` narrow cuts ``N``,
        fitted jointly with a robust loss (module docstring).  Returns (B, cut parameters)."""
        lf = np.log2(f)
        knots = np.arange(lf[0], lf[-1] + BASELINE_KNOT_OCTAVES, BASELINE_KNOT_OCTAVES)
        hats = np.clip(1.0 - np.abs(lf[:, None] - knots[None, :]) / BASELINE_KNOT_OCTAVES, 0.0, None)
        hats /= hats.sum(axis=1, keepdims=True)
        d2 = np.diff(np.eye(knots.size), 2, axis=0) * math.sqrt(BASELINE_CURVATURE_WEIGHT * f.size / knots.size)
        b0 = local_trend_db(f, c_raw)
        v0 = np.linalg.lstsq(hats, b0, rcond=None)[0]
        # start: cuts on the peaks below the robust symmetric trend, largest first
        q_lo = max(NARROW_Q_MIN, q_cut_min)
        params: list[float] = []
        resid = c_raw - b0
        for _ in range(settings.n_max):
            e = np.where(inside, resid, 0.0)
            i = int(np.argmin(e))
            if -e[i] < settings.min_gain_db:
                break
            qv = _half_height_q(f, -e, i, q_lo, settings.q_max)
            params += [math.log(min(max(f[i], lo_hz), f_top)), max(float(e[i]), -settings.max_cut_db), math.log(qv)]
            resid = c_raw - b0 - cascade(np.array(params))
        dip_w = math.sqrt(BASELINE_DIP_WEIGHT)
        ridge = math.sqrt(BASELINE_CUT_RIDGE)

        def side(r):
            # the room below the model (a dip: the correction above it) weighs BASELINE_DIP_WEIGHT
            return np.where(r < 0.0, dip_w, 1.0)

        def solve(cut_params, v):
            n_p = len(cut_params)
            n_c = n_p // 3
            lo_b = np.array([math.log(lo_hz), -settings.max_cut_db, math.log(q_lo)] * n_c + [-np.inf] * knots.size)
            hi_b = np.array([math.log(f_top), 0.0, math.log(settings.q_max)] * n_c + [np.inf] * knots.size)
            x0 = np.concatenate([np.asarray(cut_params, dtype=np.float64), v])
            x0[:n_p] = np.clip(x0[:n_p], lo_b[:n_p] + 1e-9, hi_b[:n_p] - 1e-9)
            rows = np.arange(n_c)

            def area(x):
                # the ridge weighs a cut's gain by the square root of its relative width (Q_ref/Q):
                # penalty ∝ gain²·width, so a wide cut costs more than a narrow one of equal gain
                return ridge * x[1:n_p:3] * np.exp(-0.5 * (x[2:n_p:3] - math.log(q_lo)))

            def res(x):
                r = hats @ x[n_p:] + cascade(x[:n_p]) - c_raw
                return np.concatenate([w * side(r) * r, d2 @ x[n_p:], area(x)])

            def jac(x):
                # the baseline is linear in its knots; each cut's columns by forward differences
                # of that cut alone (the cascade is a sum in dB)
                jd = np.empty((f.size, n_p + knots.size))
                jd[:, n_p:] = hats
                for k in range(n_c):
                    pk = x[3 * k:3 * k + 3]
                    r0 = cascade(pk)
                    for j in range(3):
                        h = 1e-6 * max(1.0, abs(pk[j]))
                        pj = pk.copy()
                        pj[j] += h
                        jd[:, 3 * k + j] = (cascade(pj) - r0) / h
                jp = np.zeros((d2.shape[0], n_p + knots.size))
                jp[:, n_p:] = d2
                r = hats @ x[n_p:] + cascade(x[:n_p]) - c_raw
                ja = np.zeros((n_c, n_p + knots.size))
                a = area(x)
                ja[rows, 3 * rows + 1] = ridge * np.exp(-0.5 * (x[2:n_p:3] - math.log(q_lo)))
                ja[rows, 3 * rows + 2] = -0.5 * a
                return np.vstack([(w * side(r))[:, None] * jd, jp, ja])

            x = least_squares(res, x0, jac=jac, bounds=(lo_b, hi_b), method="trf", loss="soft_l1",
                              f_scale=BASELINE_LOSS_SCALE_DB, x_scale="jac", tr_solver="lsmr", max_nfev=200,
                              ftol=1e-6, xtol=1e-8).x
            return list(x[:n_p]), x[n_p:]

        cut_params, v = solve(params, v0)
        # a mode is a peak of the response: cuts that sit on no local maximum of the room (a
        # plateau, a skirt) are the baseline's business; drop them and solve again
        peaks, _ = find_peaks(-c_raw, prominence=MODE_MIN_PROMINENCE_DB)
        lf_max = np.log(f[peaks])
        keep = [k for k in range(len(cut_params) // 3)
                if lf_max.size and np.min(np.abs(lf_max - cut_params[3 * k])) < math.log(2) / 12]
        if len(keep) < len(cut_params) // 3:
            cut_params, v = solve([cut_params[3 * k + j] for k in keep for j in range(3)], v)
        return hats @ v, np.array(cut_params)

    def fit():
        """Baseline and cuts jointly; broad cuts of the baseline's excess; narrow filters."""
        base, cuts0 = decompose()
        if diagnostics is not None:
            diagnostics["baseline_db"] = base.copy()
            diagnostics["cuts"] = [(math.exp(p[0]), p[1], math.exp(p[2])) for p in np.reshape(cuts0, (-1, 3))]
        # broad: the baseline's part above the target (room gain), cut by at most broad_max_cut_db
        broad_want = np.clip(base, -settings.broad_max_cut_db, 0.0) * out_fade
        broad, _ = greedy(broad_want, zero, min(settings.n_broad, settings.n_max), pick_broad)
        broad = [p for p in broad if abs(p[1]) >= settings.min_gain_db]
        broad_db = cascade(np.array(broad).reshape(-1))
        # narrow: c − min(B, 0) on top of what the broad filters do (they do not make up for the
        # broad filters' misfit): where the baseline lies above the target, each peak's
        # prominence above it; where below, the whole correction (a cut to the baseline there
        # would dig the band below the target), boosts within the boost limit
        want = np.clip((c_raw - np.minimum(base, 0.0)) * fd + broad_db, -settings.max_cut_db, allow)
        # two starts, the better fit wins: the decomposition's cuts where the baseline lies above
        # the target (there they are the answer; elsewhere the greedy placement on ``want``
        # chooses), and all of its cuts
        n = settings.n_max - len(broad)
        cuts = [list(p) for p in np.reshape(cuts0, (-1, 3)) if p[1] <= -settings.min_gain_db]
        b_at = np.interp([p[0] for p in cuts], np.log(f), base) if cuts else np.zeros(0)
        best, best_cost = None, np.inf
        for init in ([p for p, b in zip(cuts, b_at) if b < 0], cuts):
            params = fit_narrow(want, broad_db, n, init)
            cost = float(np.sum(residuals(np.array(params).reshape(-1), want, broad_db) ** 2))
            if cost < best_cost:
                best, best_cost = params, cost
            if len(init) == len(cuts):
                break
        return broad, best

    def fit_narrow(want, broad_db, n=settings.n_max, init=()):
        """Narrow filters on ``want`` over the fixed broad cascade ``broad_db``, starting from
        the cuts ``init``."""
        params, kinds = greedy(want, broad_db, n, pick_narrow, init)
        # merge narrow filters of the same kind closer than 1/12 octave (greedy steps can stack them)
        merged: list[list[float]] = []
        mkinds: list[int] = []
        for p, kd in sorted(zip(params, kinds), key=lambda t: t[0][0]):
            if merged and mkinds[-1] == kd and abs(p[0] - merged[-1][0]) < math.log(2) / 12:
                m = merged[-1]
                m[0] = (abs(m[1]) * m[0] + abs(p[1]) * p[0]) / max(abs(m[1]) + abs(p[1]), 1e-9)
                m[1] = m[1] + p[1]
                m[2] = max(m[2], p[2]) if kd == _CUT else min(m[2], p[2])
            else:
                merged.append(list(p))
                mkinds.append(kd)
        params, kinds = merged, mkinds
        # joint refinement of the narrow filters over the fixed broad ones, then drop filters
        # too small to matter and refit the rest once
        for max_nfev, keep_all in ((150, True), (40, False)):
            if not keep_all:
                keep = [i for i, p in enumerate(params) if abs(p[1]) >= settings.min_gain_db]
                if len(keep) == len(params):
                    break
                params = [params[i] for i in keep]
                kinds = [kinds[i] for i in keep]
            if not params:
                break
            lo, hi = bounds(kinds)
            x0 = np.clip(np.array(params).reshape(-1), lo + 1e-9, hi - 1e-9)
            x = least_squares(residuals, x0, bounds=(lo, hi), method="trf", x_scale="jac", tr_solver="lsmr",
                              max_nfev=max_nfev, ftol=1e-4, xtol=1e-6, args=(want, broad_db)).x
            params = [list(r) for r in x.reshape(-1, 3)]
        return params

    broad, params = fit()
    out = [Biquad("peaking", float(round(math.exp(p[0]), 2)), float(round(p[1], 2)), float(round(math.exp(p[2]), 3)))
           for p in broad + params if abs(p[1]) >= settings.min_gain_db / 2]
    return sorted(out, key=lambda b: b.freq_hz)
