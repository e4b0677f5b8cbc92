"""How :class:`monitor.watch.Watch` compares its estimate with the baseline: per-band changes,
the level, and the impulse response of ``H / H_baseline`` for arrival and polarity (a mixin of
``Watch``; the decision rule and the words are verify's, see :mod:`monitor.watch`).
"""

from __future__ import annotations

import math

import numpy as np

from calib.verification_types import CheckResult
from monitor.verify import _judge, _mask_limit_db, is_sub, polarity_check
from calib.analysis.bands import nominal_label

__all__ = ["WatchComparison"]

#: A band is separable for a speaker when at least this share of its feed's power is not
#: explained by the other feeds (1 − γ²_i:others).  0.05 means the feeds are 95 % coherent
#: there: the variance of H is inflated 20-fold, and the estimate's small systematic errors
#: with it (on the test songs, bands at 0.01..0.05 showed 1.3 dB errors on an unchanged room).
SEP_MIN = 0.05
#: Where the feeds are partly coherent, what the linear model leaves unexplained (the Welch
#: estimate on music is not exactly the baseline) is amplified by the inversion of ``Gxx``
#: like the noise is: the model term grows as ``sqrt(SEP_REF / s)`` below this separability.
SEP_REF = 0.2
#: Bins whose normalised error is above this are left out (the dB of a noisy magnitude is biased).
EPS_MAX = 0.5
#: Bins where the baseline is more than this far below the band's mean power are left out
#: (a notch: the ratio there is dominated by the window's smoothing).
NOTCH_DB = -15.0
#: Standard uncertainty (dB) of a band level estimated from programme on an unchanged room, beyond
#: the random error: the Welch estimate on music is not exactly the lag-weighted baseline
#: (the weighting is exact for white input only).  Measured on the test rooms and songs: the
#: 20-minute unchanged runs show band errors within +-0.15 dB (tests/test_watch_programme.py).
U_MODEL_BAND_DB = 0.08
#: Below this frequency the model term grows as (LF_MODEL_HZ / f)²: few programme components per
#: band (a bass line's notes), the speaker's roll-off and long room decays; on the 20-minute test
#: runs the 31.5 Hz band strayed by up to 2 dB (3 of the random error), 63 Hz and up by < 0.3 dB.
#: The watch catches only gross changes at 31.5-50 Hz; a sweep verification is the tool there.
LF_MODEL_HZ = 125.0
#: The same for the level (median of many bands) (dB).
U_MODEL_LEVEL_DB = 0.03
#: The same for the arrival time (s): phase of the windowed estimate against the baseline's.
U_MODEL_ARRIVAL_S = 2.0e-6
#: Below this level (dB re the baseline) a speaker "plays nothing at the mic".
MUTED_DB = -20.0
#: Median multiple coherence (200 Hz-4 kHz) below which the mic is said to hear much that is
#: not in the feeds (talking, noise).
LOW_COHERENCE = 0.7
#: Averages needed before anything is judged: with few averages the coherence (and with it
#: the error formula) is biased high (B&P 9.3: bias of γ² about (1 − γ²)²/n_d).  30 averages of
#: the 1.4 s window are about 25 s of programme.
MIN_AVERAGES = 30


def _num(v: float) -> float | None:
    return round(float(v), 4) if v is not None and math.isfinite(v) else None


class WatchComparison:
    """Comparison methods of :class:`monitor.watch.Watch` (which holds the state they read)."""

    def _bands(self, est: dict, i: int):
        """Per band: value (dB change), standard uncertainty (dB), status."""
        nb = self.centres.size
        val = np.full(nb, np.nan)
        unc = np.full(nb, np.nan)
        status = ["none"] * nb
        for b in range(nb):
            r = self.band_res[b]
            e = est[r]
            idx = self.band_bins[b]
            if idx.size == 0 or e["n_d"] < MIN_AVERAGES / 2:
                continue
            pw = e["gxx_diag"][idx, i]
            if pw.sum() <= 0:
                status[b] = "no_programme"
                continue
            sep_b = float(np.sum(pw * e["sep"][idx, i]) / np.sum(pw))
            if sep_b < SEP_MIN:
                status[b] = "not_separable"
                continue
            H = e["H"][idx, i]
            href = self._href[r][idx, i]
            pref = np.abs(href) ** 2
            # relative error against the baseline's magnitude, not the estimate's: weights and
            # selection from |H| itself would favour bins whose noise went up (a positive bias)
            eps = e["sigma"][idx, i] / np.maximum(np.abs(href), 1e-300)
            use = (np.isfinite(H) & (eps < EPS_MAX) & (pref > np.mean(pref) * 10 ** (NOTCH_DB / 10))
                   & (e["sep"][idx, i] >= SEP_MIN))
            if use.sum() < 2:
                status[b] = "uncertain"
                continue
            r_db = 20.0 * np.log10(np.maximum(np.abs(H[use]), 1e-15) / np.abs(href[use]))
            w = 1.0 / (8.685889638 * eps[use]) ** 2
            val[b] = float(np.sum(w * r_db) / np.sum(w))
            u_model = (U_MODEL_BAND_DB * math.sqrt(max(1.0, SEP_REF / sep_b))
                       * max(1.0, (LF_MODEL_HZ / float(self.centres[b])) ** 2))
            unc[b] = math.sqrt(1.5 / float(np.sum(w)) + u_model ** 2)
            status[b] = "judged"
        return val, unc, status

    def _level(self, est: dict, i: int, bv, bu, status, name: str) -> tuple[float, float, str]:
        """(level change dB, standard uncertainty dB, note) of one speaker."""
        lv = self.tol["level"]
        if is_sub(name):
            m = self.centres <= self.crossover_hz * 1.01
        else:
            m = (self.centres >= lv["band_lo_hz"] / 1.01) & (self.centres <= lv["band_hi_hz"] * 1.01)
        good = m & np.isfinite(bv) & (bu < 1.0)
        if good.sum() < 3:
            return math.nan, math.nan, "unknown"
        v = float(np.median(bv[good]))
        u = math.sqrt((1.2533 ** 2) / float(np.sum(1.0 / bu[good] ** 2)) + U_MODEL_LEVEL_DB ** 2)
        return v, u, "muted" if v < MUTED_DB else ""

    def _expanded(self, u: float, floor: float) -> float:
        return max(self.k_cov * u, floor) if math.isfinite(u) else math.inf

    def _judge_speaker(self, i: int, name: str, bv, bu, status, level, state) -> list[CheckResult]:
        lv, rsp = self.tol["level"], self.tol["response"]
        floor_db = self.tol["uncertainty"]["floor_db"]
        checks = []
        v, u, how = level
        sp = {"level_db": _num(v), "level_u_db": None, "not_separable_hz": [], "bands_hz": []}
        if how == "muted":
            checks.append(CheckResult("level", name, v, lv["fail_db"], "dB", "fail", 0.0,
                                      message=f"{name} plays nothing at the mic ({v:+.1f} dB against the baseline): "
                                              "speaker muted, amplifier off or a cable", warn_limit=lv["warn_db"]))
            state["speakers"][name] = sp
            return checks
        if math.isfinite(v):
            if self.gain_offset_db:
                v -= self.gain_offset_db
            U = self._expanded(u, floor_db)
            sp["level_db"], sp["level_u_db"] = _num(v), _num(U)
            checks.append(CheckResult("level", name, v, lv["fail_db"], "dB", _judge(v, U, lv["warn_db"], lv["fail_db"]), U,
                                      message=f"{name} level changed by {v:+.2f} dB (±{U:.2f} dB)", warn_limit=lv["warn_db"]))
        sub = is_sub(name)
        for b, fc in enumerate(self.centres):
            if sub and fc > 2.0 * self.crossover_hz * 1.01:
                continue
            if status[b] == "not_separable":
                self.not_separable[name].add(float(fc))
                sp["not_separable_hz"].append(round(float(fc), 1))
                continue
            if status[b] != "judged" or not math.isfinite(level[0]):
                continue
            dev = float(bv[b] - level[0])
            lim = _mask_limit_db(rsp["mask"], fc)
            warn = lim * rsp["warn_fraction"]
            U = self._expanded(math.sqrt(bu[b] ** 2 + level[1] ** 2), floor_db)
            if U < lim:
                self.resolved[name].add(float(fc))
                sp["bands_hz"].append(round(float(fc), 1))
            checks.append(CheckResult(
                "band_deviation", name, dev, lim, "dB", _judge(dev, U, warn, lim), U, band_hz=float(fc),
                message=f"{name} {nominal_label(fc)} Hz band changed by {dev:+.2f} dB (±{U:.2f} dB, limit ±{lim:g} dB)",
                warn_limit=warn))
        state["speakers"][name] = sp
        return checks

    def _arrivals(self, est: dict, state: dict) -> list[CheckResult]:
        """Arrival change and polarity per speaker from the IR of ``H / H_baseline``."""
        e = est["short"]
        av = self.res["short"]
        f = e["freqs_hz"]
        ar, pol, mp = self.tol["arrival"], self.tol["polarity"], self.tol["mic_position"]
        floor_s = self.tol["uncertainty"]["floor_s"]
        up = 4
        M = av.n_fft * up
        max_lag = int(round(0.002 * self.fs * up))
        res = {}
        for i, name in enumerate(self.names):
            if name in self._muted:
                continue      # nothing of it at the mic: no arrival, no polarity to judge
            href = self._href["short"][:, i]
            H = e["H"][:, i]
            eps = e["sigma"][:, i] / np.maximum(np.abs(href), 1e-300)
            pref = np.abs(href) ** 2
            use = ((f >= 200.0) & (f <= min(8000.0, 0.4 * self.fs)) & np.isfinite(H) & (eps < EPS_MAX)
                   & (e["sep"][:, i] >= SEP_MIN) & (pref > 1e-3 * np.median(pref)))
            if use.sum() < 32:
                continue
            R = H[use] / href[use]
            W = 1.0 / np.maximum(eps[use], 0.02) ** 2
            sig_c = 1.0 / math.sqrt(float(np.sum(1.0 / np.maximum(eps[use], 1e-3) ** 2)))
            Z = np.zeros(M // 2 + 1, np.complex128)
            Z[av.k0 + np.flatnonzero(use)] = W * R
            r = np.fft.irfft(Z, M) * (M / 2.0) / float(np.sum(W * np.abs(R)))
            lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
            seg = r[lags % M]
            k = int(np.argmax(np.abs(seg)))
            sgn = 1.0 if seg[k] >= 0 else -1.0
            y0, y1, y2 = sgn * r[(lags[k] - 1) % M], sgn * seg[k], sgn * r[(lags[k] + 1) % M]
            den = y0 - 2 * y1 + y2
            delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            tau_s = (lags[k] + delta) / up / self.fs
            w_ph = 1.0 / np.maximum(eps[use], 1e-3) ** 2
            sig_tau = math.sqrt(1.5 / float(np.sum((2 * np.pi * f[use]) ** 2 * w_ph)))
            res[name] = (tau_s, sgn * y1, sig_tau, sig_c)
        checks: list[CheckResult] = []
        if not res:
            return checks
        if self.arrival_offset_s is None:
            if len(res) == self.p and all(v[2] < 5e-6 for v in res.values()):
                self.arrival_offset_s = float(np.median([v[0] for v in res.values()]))
                self._note(f"the interface latency was taken from the first estimate ({self.arrival_offset_s * 1e3:+.3f} ms "
                           "beside the delay found); arrivals are judged against it", key="latlock")
            else:
                return checks
        moved = []
        for name, (tau, c, sig_tau, sig_c) in res.items():
            v = tau - self.arrival_offset_s
            U = max(self.k_cov * math.sqrt(sig_tau ** 2 + U_MODEL_ARRIVAL_S ** 2), floor_s)
            if abs(v) - U > mp["max_shift_s"]:
                moved.append((name, v))
            state["speakers"].setdefault(name, {})["arrival_ms"] = _num(v * 1e3)
            if sig_c < 0.1:
                checks.append(polarity_check(name, c, pol["min_similarity"]))
            checks.append(CheckResult(
                "arrival", name, v * 1e3, ar["fail_s"] * 1e3, "ms", _judge(v, U, ar["warn_s"], ar["fail_s"]), U * 1e3,
                message=f"{name} arrives {v * 1e3:+.3f} ms (±{U * 1e3:.3f} ms) against the baseline",
                warn_limit=ar["warn_s"] * 1e3))
        if len(moved) >= 2 and len(moved) == len(res):
            # every speaker moved: the mic (or the interface latency), not the room
            parts = ", ".join(f"{n} {v * 1e3:+.3f} ms" for n, v in moved)
            checks = [c for c in checks if c.name != "arrival"]
            checks.append(CheckResult("mic_position", "", max(abs(v) for _, v in moved) * 1e3, mp["max_shift_s"] * 1e3,
                                      "ms", "warn", message=f"the mic is not where the baseline was measured (or the "
                                      f"latency changed): arrival times moved for {parts}; no arrival drift was judged"))
        return checks

