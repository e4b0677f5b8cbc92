"""The watch: is the room still the calibrated room?  Judged from the programme, without a sweep.

While the monitor plays, the feed of every speaker (the engine's output, sample for sample)
and a measurement mic at the listening position are known.  :class:`Watch` takes both in
chunks (never in the audio callback: a worker does it), estimates each speaker's transfer
function to the mic from the music (:mod:`monitor.watch_estimate`: delay by GCC-PHAT once,
exponentially averaged cross-spectra, ``H = Gxx⁻¹ Gxy`` for several correlated speakers) and
compares it with the profile's baseline IRs, with the tolerances, decision rule and words of
``roomtruth verify`` (:mod:`monitor.verify`):

* ``level`` — median third-octave change over ``level.band_lo_hz..band_hi_hz``;
* ``band_deviation`` — per third-octave band, the change minus ``level``, against the mask;
* ``arrival`` / ``polarity`` — from the "impulse response" of ``H / H_baseline`` (its peak lag
  and sign), like verify's correlation of the direct sounds;
* a speaker that plays nothing at the mic (muted, amplifier off) fails ``level`` with that
  sentence.

How the baseline is made comparable
-----------------------------------
The averaged ``H`` of a Welch estimate with window ``w`` is the transform of ``h(τ)·c(τ)``
(``c`` the window's normalised autocorrelation, exactly so for white input): the baseline IR
is given the same lag weighting, placed where the estimator sees the speaker (the delay found,
the known or locked interface latency), before its spectrum is compared bin by bin.
LF bands (below :data:`F_SPLIT_HZ`) use a long window (about 0.7 s), the others a shorter one
(about 0.34 s).

Uncertainty and verdicts
------------------------
Per bin the random error of ``|H_i|`` is ``ε`` (B&P; :mod:`monitor.watch_estimate`), in dB
``σ = 20 lg(e) ε``.  A band's change is the inverse-variance (so coherence-) weighted mean of
the bins' dB ratios, with standard uncertainty ``sqrt(1.5 / Σ σ⁻²)`` (1.5: the equivalent
noise bandwidth of the Hann window in bins, i.e. neighbouring bins are not independent), and
a model term :data:`U_MODEL_BAND_DB` (what the programme estimate may differ from a sweep on
an unchanged room).  The expanded ``U = k·u`` and the judgement are verify's
(``|value| ≤ U`` pass; ``|value| − U > fail`` fail; ``|value| > warn`` warn).  A verdict is
reported after :attr:`Watch.confirm_evals` evaluations in a row agree (one evaluation every
``eval_period_s`` of programme), so one noisy look never becomes an alarm.

What the programme cannot tell
------------------------------
* Bands where the speakers carry the same signal (a mono programme, a centred voice alone)
  are *not separable*: the separability ``1 − γ²_i:others`` power-averaged over the band is
  below :data:`SEP_MIN`; they are reported as such and nothing is judged there.
* Silence and quiet passages (feeds below ``quiet_dbfs``) are skipped: the estimate holds.
* Talking or noise in the room is not in the feeds: it lowers the coherence and widens the
  uncertainty, it does not move the estimate; a low coherence is said.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from calib.analysis.bands import band_edges_hz, nominal_label, third_octave_centres_hz
from calib.errors import ConfigError, SignalError, require_same_fs
from calib.types import ImpulseResponse
from calib.verification_types import CheckResult
from monitor.verify import _summary, load_tolerances
from monitor.watch_compare import (EPS_MAX, LF_MODEL_HZ, LOW_COHERENCE, MIN_AVERAGES, MUTED_DB, NOTCH_DB, SEP_MIN,
                                   SEP_REF, U_MODEL_ARRIVAL_S, U_MODEL_BAND_DB, U_MODEL_LEVEL_DB, WatchComparison, _num)
from monitor.watch_estimate import SpectralAverager, find_delay, lag_window

__all__ = ["Watch", "WatchEvent", "record_watch", "F_SPLIT_HZ", "SEP_MIN", "EPS_MAX", "LF_MODEL_HZ", "LOW_COHERENCE",
           "MIN_AVERAGES", "MUTED_DB", "NOTCH_DB", "SEP_REF", "U_MODEL_ARRIVAL_S", "U_MODEL_BAND_DB", "U_MODEL_LEVEL_DB"]

#: Bands with a centre below this use the long window (Hz).
F_SPLIT_HZ = 180.0

#: Time constant of the fast average (s) kept beside the slow one for change detection.
TAU_FAST_S = 15.0
#: When the fast average's median coherence (200 Hz-4 kHz) exceeds the slow one's by this, the
#: slow one is mixing two rooms (the room changed): it restarts from the fast one.
CHANGE_COH = 0.04
#: While the fast coherence is this far below its typical value, the room is changing (or
#: someone talks): reported verdicts are held, nothing new is reported.
UNSETTLED_COH = 0.08

_ORDER = {"pass": 0, "skip": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class WatchEvent:
    """A change of the reported verdict of one check (JSON contract of ``roomtruth watch``)."""

    time_s: float
    speaker: str
    check: str
    band_hz: float | None
    value: float
    uncertainty: float
    verdict: str
    message: str
    unit: str = ""
    since_unix: float | None = None

    def to_dict(self) -> dict:
        d = {"time_s": round(self.time_s, 3), "speaker": self.speaker, "check": self.check,
             "band_hz": None if self.band_hz is None else round(float(self.band_hz), 2),
             "value": _num(self.value), "uncertainty": _num(self.uncertainty), "verdict": self.verdict,
             "message": self.message, "unit": self.unit}
        if self.since_unix is not None:
            d["since_unix"] = self.since_unix
        return d


def _pow2_near(x: float) -> int:
    return 1 << max(8, int(round(math.log2(max(x, 256.0)))))


class Watch(WatchComparison):
    """Estimate and judge every speaker's transfer function from programme.

    Parameters
    ----------
    reference : ImpulseResponse
        The calibration baseline (the profile's ``reference``), one channel per speaker.
    fs : int
        Rate of the feeds and the mic (Hz); must equal the reference's.
    speakers : sequence of str, optional
        Names of the feed rows, in order (default: the reference's channels).
    tolerances : mapping, optional
        Overrides of verify's tolerance tables (a profile's ``tolerances``).
    tau_s : float
        Time constant of the averages (s of usable programme), default 60 s.
    eval_period_s : float
        Programme time between two judgements (s).
    latency_samples : float or None
        Interface latency feed → mic not part of the room (samples): 0 in a rehearsal; None
        (live) locks it at the first confident estimate (arrivals are then judged against it).
    gain_offset_db : float or None
        Gain of the watch mic against the baseline's mic (dB): 0 when the same calibrated mic
        chain measures; None locks the common offset at the first judgement (levels are then
        judged against it: a change common to all speakers is not seen).
    max_delay_s : float
        Longest feed → mic delay searched (s).
    quiet_dbfs : float
        Frames whose feeds are quieter than this (RMS, dBFS) are not used.
    confirm_evals : int
        Evaluations in a row that must agree before a verdict is reported.
    crossover_hz : float, optional
        Sub/main crossover (a subwoofer's level is its own band's, as in verify).
    clock : callable, optional
        Wall clock (s since the epoch) stamped on events (``since_unix``); live use.

    Raises
    ------
    SignalError
        Sample rates differ, or the reference lacks a speaker.
    ConfigError
        Bad tolerances or parameters.
    """

    def __init__(self, reference: ImpulseResponse, *, fs: int, speakers: Sequence[str] | None = None,
                 tolerances: Mapping[str, Any] | None = None, tau_s: float = 60.0, eval_period_s: float = 5.0,
                 latency_samples: float | None = 0.0, gain_offset_db: float | None = 0.0,
                 max_delay_s: float = 1.0, quiet_dbfs: float = -60.0, confirm_evals: int = 2,
                 crossover_hz: float | None = None, clock: Callable[[], float] | None = None) -> None:
        require_same_fs(fs_a=reference.fs, fs_b=int(fs), what_a="the profile's reference", what_b="the watched programme")
        if not (5.0 <= tau_s <= 3600.0):
            raise ConfigError(f"watch time constant {tau_s} s is outside 5..3600 s")
        if not (0.5 <= eval_period_s <= 600.0):
            raise ConfigError(f"watch evaluation period {eval_period_s} s is outside 0.5..600 s")
        self.fs = int(fs)
        self.names = tuple(speakers) if speakers is not None else tuple(reference.channel_names)
        missing = [n for n in self.names if n not in reference.channel_names]
        if missing:
            raise SignalError(f"the baseline holds speakers {', '.join(reference.channel_names)} but not "
                              f"{', '.join(missing)}; watch the profile's own speakers")
        self.p = len(self.names)
        self.tol = load_tolerances(tolerances)
        self.k_cov = self.tol["uncertainty"]["coverage_k"]
        self.crossover_hz = float(crossover_hz or self.tol["sub_phase"]["crossover_hz"])
        self.ref = np.stack([reference.samples[reference.channel_names.index(n)] for n in self.names]).astype(np.float64)
        self.ref_onset = int(reference.onset_samples)
        self.latency = latency_samples
        self.gain_offset_db = gain_offset_db
        self.arrival_offset_s: float | None = 0.0 if latency_samples is not None else None
        self.tau_s = float(tau_s)
        self.eval_period = int(round(eval_period_s * self.fs))
        self.max_delay = int(round(max_delay_s * self.fs))
        self.quiet_power = 10.0 ** (quiet_dbfs / 10.0)
        self.confirm_evals = max(1, int(confirm_evals))
        self.clock = clock

        nyq = self.fs / 2.0
        self.n_long = _pow2_near(2.73 * self.fs)
        self.n_short = _pow2_near(1.365 * self.fs)
        self.res = {
            "long": SpectralAverager(fs=self.fs, n_inputs=self.p, n_fft=self.n_long, f_lo_hz=15.0,
                                     f_hi_hz=F_SPLIT_HZ * 1.5, tau_s=tau_s, tau_fast_s=TAU_FAST_S),
            "short": SpectralAverager(fs=self.fs, n_inputs=self.p, n_fft=self.n_short, f_lo_hz=F_SPLIT_HZ * 0.8,
                                      f_hi_hz=0.48 * self.fs, tau_s=tau_s, tau_fast_s=TAU_FAST_S),
        }
        rsp = self.tol["response"]
        hi = min(rsp["hi_hz"], nyq / 1.2)
        self.centres = third_octave_centres_hz(rsp["lo_hz"], hi)
        lo_e, hi_e = band_edges_hz(self.centres, fraction=3)
        self.band_res = ["long" if fc < F_SPLIT_HZ else "short" for fc in self.centres]
        self.band_bins = []
        for b, r in enumerate(self.band_res):
            f = self.res[r].freqs_hz
            self.band_bins.append(np.flatnonzero((f >= lo_e[b]) & (f < hi_e[b])))
        # streaming state
        self.n_in = 0                   # samples pushed so far (programme time)
        self._base = 0                  # absolute index of buffer column 0
        self._x = np.zeros((self.p, 0))
        self._y = np.zeros(0)
        self.delay: int | None = None
        self._next = {k: 0 for k in self.res}
        self._next_eval = self.eval_period
        self.usable_s = np.zeros(self.p)    # seconds of programme with each feed sounding
        self.quiet_s = 0.0
        self._loud_n = 0                    # sounding samples seen while looking for the delay
        self._latency_est = 0.0             # live: interface latency found with the delay (samples)
        self._href: dict[str, np.ndarray] = {}
        # judgement state
        self.reported: dict[tuple, str] = {}
        self.pending: dict[tuple, tuple[str, int]] = {}
        self.last: dict[tuple, CheckResult] = {}
        self.events: list[WatchEvent] = []
        self.notes: list[str] = []
        self._conditions: set[str] = set()
        self.current: dict[str, Any] = {}
        self.not_separable: dict[str, set[float]] = {n: set() for n in self.names}
        self.resolved: dict[str, set[float]] = {n: set() for n in self.names}
        self.n_evals = 0
        self.coh_typical = 0.0
        self.restarts: list[float] = []
        self._changing: float | None = None
        self._chg_peak = 0.0
        self._muted: set[str] = set()

    # ------------------------------------------------------------------ streaming
    def push(self, x: np.ndarray, y: np.ndarray) -> list[WatchEvent]:
        """Take the next chunk of feeds and mic; returns the events reported meanwhile.

        Parameters
        ----------
        x : ndarray, shape (p, n)
            Feeds of the speakers (the engine's output), in :attr:`names` order.
        y : ndarray, shape (n,)
            The watch mic, the same samples' time.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or x.shape[0] != self.p or x.shape[1] != y.size:
            raise SignalError(f"watch chunk: feeds {x.shape} and mic {y.shape} do not match {self.p} speakers")
        n_before = len(self.events)
        self._x = np.concatenate([self._x, x], axis=1)
        self._y = np.concatenate([self._y, y])
        self.n_in += y.size
        if self.delay is None:
            if float(np.mean(x * x)) * self.p >= self.quiet_power:     # a sounding chunk
                self._loud_n += y.size
            self._acquire()
        if self.delay is not None:
            self._frames()
        while self.n_in >= self._next_eval:
            self._evaluate(self._next_eval / self.fs)
            self._next_eval += self.eval_period
        self._trim()
        return self.events[n_before:]

    def _acquire(self) -> None:
        """Find the feed → mic delay once enough sounding programme is buffered (GCC-PHAT)."""
        n = self._y.size
        if n < int(8.0 * self.fs) + self.max_delay or self._loud_n < int(6.0 * self.fs):
            return
        lag, prom = find_delay(self._x, self._y, max_lag_samples=self.max_delay)
        self._loud_n = 0
        if prom < 8.0:
            self._note("the mic does not hear the feeds (no clear delay between them): check the watch mic's input",
                       key="nodelay")
            return
        self.delay = max(0, lag - int(round(0.003 * self.fs)))
        if self.latency is None:
            # live: the interface latency is the peak's lag less the baseline's earliest direct
            # sound (within the spread of the speakers' distances, < 1 ms; the arrival check
            # locks the rest at its first confident estimate)
            first = min(int(np.argmax(np.abs(r))) for r in self.ref) - self.ref_onset
            self._latency_est = float(lag - first)
        for k in self._next:
            self._next[k] = self._base + self.delay
        self._build_reference()

    def _frames(self) -> None:
        D = self.delay
        for key, av in self.res.items():
            N = av.n_fft
            while self._next[key] + N <= self.n_in:
                t = self._next[key] - self._base
                xs = self._x[:, t - D:t - D + N]
                ys = self._y[t:t + N]
                pw = np.mean(xs ** 2, axis=1)
                if key == "short":
                    hop_s = av.hop / self.fs
                    if pw.sum() < self.quiet_power:
                        self.quiet_s += hop_s
                    self.usable_s += hop_s * (pw > self.quiet_power / max(self.p, 1))
                if pw.sum() >= self.quiet_power:
                    av.add_frame(xs, ys)
                self._next[key] += av.hop

    def _trim(self) -> None:
        if self.delay is None:
            keep_from = self.n_in - int(20 * self.fs) - self.max_delay
        else:
            keep_from = min(self._next.values()) - self.delay
        cut = keep_from - self._base
        if cut > 0:
            self._x = self._x[:, cut:]
            self._y = self._y[cut:]
            self._base += cut

    def _build_reference(self) -> None:
        """Baseline spectra as the estimator sees them (lag-weighted, placed at the delay)."""
        lat = self._latency_est if self.latency is None else float(self.latency)
        lat_i = int(math.floor(lat))
        frac = lat - lat_i
        for key, av in self.res.items():
            N = av.n_fft
            c = lag_window(N)
            tau = np.arange(-N // 2, N // 2)
            j = tau + self.ref_onset - lat_i + self.delay   # baseline sample seen at estimator lag tau
            ok = (j >= 0) & (j < self.ref.shape[1])
            g = np.zeros((self.p, N))
            g[:, tau[ok] % N] = self.ref[:, j[ok]] * c[np.abs(tau[ok])]
            spec = np.fft.rfft(g, axis=-1)[:, av.k0:av.k1].T       # (nb, p)
            spec *= np.exp(-2j * np.pi * av.freqs_hz * frac / self.fs)[:, None]
            self._href[key] = spec

    # ------------------------------------------------------------------ judging
    def _note(self, text: str, key: str | None = None) -> None:
        k = key or text
        if k not in self._conditions:
            self._conditions.add(k)
            self.notes.append(text)

    def _evaluate(self, t_s: float) -> None:
        if self.delay is None:
            self.current = {"state": "acquiring", "time_s": t_s}
            return
        est = {k: av.estimate() for k, av in self.res.items()}
        if est["short"]["n_d"] < MIN_AVERAGES:
            self.current = {"state": "quiet" if self.quiet_s > 0 else "acquiring", "time_s": t_s}
            return
        self.n_evals += 1
        s = est["short"]
        f = s["freqs_hz"]
        mid = (f >= 200.0) & (f <= 4000.0)
        coh = float(np.median(s["coh"][mid])) if mid.any() else math.nan
        fast = self.res["short"].fast
        if fast.n_averages >= MIN_AVERAGES and mid.any():
            coh_f = float(np.median(fast.estimate(mid)["coh"]))
            if self._changing is None and (coh_f - coh > CHANGE_COH or coh_f < self.coh_typical - UNSETTLED_COH):
                self._changing = t_s
                self._chg_peak = coh_f
                self.restarts.append(t_s)
            if self._changing is not None:
                # the slow average would mix the old and the new room (or the talking): follow the
                # fast one until it holds only the new state (4 time constants, 2 % of the old)
                for av in self.res.values():
                    av.restart_from_fast()
                est = {k: av.estimate() for k, av in self.res.items()}
                s = est["short"]
                coh = float(np.median(s["coh"][mid]))
                # settled: 4 fast time constants (2 % of the old state left) and the coherence no
                # longer rising (back to what it was, or steady at what the new state allows)
                self._chg_peak = max(self._chg_peak, coh_f)
                long_enough = t_s - self._changing >= 4.0 * TAU_FAST_S
                if long_enough and (coh_f >= min(self.coh_typical - UNSETTLED_COH / 2, self._chg_peak - 0.02)
                                    or t_s - self._changing > 300.0):
                    self._changing = None
                    self.coh_typical = coh_f
            else:
                self.coh_typical = max(coh_f, self.coh_typical - 0.005)
        if math.isfinite(coh) and coh < LOW_COHERENCE:
            self._note(f"at {t_s:.0f} s the mic hears much that is not in the feeds (talking or noise in the room: "
                       f"coherence {coh:.2f}); the estimates keep their value and need longer", key="lowcoh")
        hold = self._changing is not None
        if hold:
            self._note(f"at {self._changing:.0f} s the sound at the mic changed (the room, or talking/noise): "
                       "verdicts wait until the estimate holds only the new state", key=f"chg{self._changing}")
        checks: list[CheckResult] = []
        state = {"state": "watching", "time_s": t_s, "coherence": coh, "delay_samples": self.delay, "speakers": {}}
        levels = {}
        band_vals = {}
        for i, name in enumerate(self.names):
            bv, bu, status = self._bands(est, i)
            band_vals[name] = (bv, bu, status)
            levels[name] = self._level(est, i, bv, bu, status, name)
        self._muted = {n for n, lv in levels.items() if lv[2] == "muted"}
        if self.gain_offset_db is None:
            have = [lv[0] for lv in levels.values() if math.isfinite(lv[0])]
            if len(have) == self.p:
                self.gain_offset_db = float(np.median(have))
                self._note(f"the watch mic's gain against the baseline was set to {self.gain_offset_db:+.2f} dB "
                           "at the first judgement; levels are judged against it", key="gainlock")
                spread = max(have) - min(have)
                if spread > self.tol["level"]["fail_db"]:
                    # a speaker that changed before the watch started pulls the median: with two
                    # speakers each then reads half the difference (L +1, R -1 for L +2 dB)
                    self._note(f"at the first judgement the speakers' levels against the baseline already differed by "
                               f"{spread:.1f} dB: one changed before the watch started, and with the mic's gain unknown "
                               "the watch cannot tell which (each is judged against their median); give the mic's gain "
                               "(--watch-gain-db, 0 for the calibration mic left in place) or run a sweep verification",
                               key="lockspread")
        for i, name in enumerate(self.names):
            bv, bu, status = band_vals[name]
            checks += self._judge_speaker(i, name, bv, bu, status, levels[name], state)
        checks += self._arrivals(est, state)
        self._update(checks, t_s, hold=hold)
        state["settled"] = not hold
        state["message"] = self.summary()
        self.current = state

    def _update(self, checks: list[CheckResult], t_s: float, *, hold: bool = False) -> None:
        """Hysteresis: a verdict is reported when ``confirm_evals`` judgements in a row agree;
        while ``hold`` (the room is changing, someone talks) nothing new is reported."""
        for c in checks:
            key = (c.name, c.channel, None if not math.isfinite(c.band_hz) else round(c.band_hz, 1))
            self.last[key] = c
            if c.verdict == "skip" or hold:
                self.pending.pop(key, None)
                continue
            cur = self.reported.get(key, "pass")
            if c.verdict == cur:
                self.pending.pop(key, None)
                continue
            v, n = self.pending.get(key, (c.verdict, 0))
            n = n + 1 if v == c.verdict else 1
            if n >= self.confirm_evals:
                self.pending.pop(key, None)
                self.reported[key] = c.verdict
                msg = c.message if c.verdict != "pass" else c.message + " (back within tolerance)"
                self.events.append(WatchEvent(
                    time_s=t_s, speaker=c.channel, check=c.name, band_hz=key[2], value=c.value,
                    uncertainty=c.uncertainty, verdict=c.verdict, message=msg, unit=c.unit,
                    since_unix=self.clock() if self.clock else None))
            else:
                self.pending[key] = (c.verdict, n)

    # ------------------------------------------------------------------ results
    def drifts_now(self) -> list[CheckResult]:
        """The checks reported warn or fail now (newest values)."""
        return [self.last[k] for k, v in self.reported.items() if v in ("warn", "fail") and k in self.last]

    def summary(self) -> str:
        """verify's sentence for what is reported now ("room changed: ..." / all well)."""
        bad = self.drifts_now()
        if not bad:
            return "the room plays like its baseline" if self.n_evals else "not judged yet: not enough programme"
        return _summary([CheckResult(c.name, c.channel, c.value, c.limit, c.unit, self.reported[
            (c.name, c.channel, None if not math.isfinite(c.band_hz) else round(c.band_hz, 1))], c.uncertainty,
            band_hz=c.band_hz, message=c.message) for c in bad])

    def verdict(self) -> str:
        """Worst verdict ever reported (``pass`` when nothing was)."""
        worst = max((_ORDER[e.verdict] for e in self.events), default=0)
        return ("pass", "warn", "fail")[worst]

    def speaker_lines(self) -> dict[str, str]:
        """Per speaker one line for the live view: ``OK`` or ``drift L +1.1 dB at 125 Hz``."""
        out = {}
        for n in self.names:
            bad = sorted((c for c in self.drifts_now() if c.channel == n),
                         key=lambda c: -_ORDER[self.reported[(c.name, c.channel, None if not math.isfinite(c.band_hz) else round(c.band_hz, 1))]])
            if not bad:
                out[n] = "OK" if self.n_evals else "listening"
                continue
            c = bad[0]
            where = f" at {nominal_label(c.band_hz)} Hz" if math.isfinite(c.band_hz) else ""
            what = {"polarity": "polarity inverted" if c.value < 0 else "direct sound changed"}.get(c.name)
            out[n] = f"drift {n} " + (what or f"{c.value:+.1f} {c.unit}{where}")
        return out

    def result(self) -> dict:
        """The JSON document of ``roomtruth watch`` (see the CLI contract)."""
        coverage = {}
        for i, n in enumerate(self.names):
            ns = sorted(self.not_separable[n] - self.resolved[n])
            coverage[n] = {"bands_hz": [round(f, 1) for f in sorted(self.resolved[n])],
                           "seconds_usable": round(float(self.usable_s[i]), 1),
                           "not_separable_hz": [round(f, 1) for f in ns]}
        notes = list(self.notes)
        ns_all = sorted(set.intersection(*(set(c["not_separable_hz"]) for c in coverage.values()))) if coverage else []
        if ns_all:
            notes.append(f"{' and '.join(self.names)} carry the same signal in the bands "
                         f"{', '.join(nominal_label(f) for f in ns_all)} Hz (a mono programme or centred sources): "
                         "the watch cannot tell the speakers apart there and judged nothing there")
        for i, n in enumerate(self.names):
            if self.usable_s[i] == 0 and self.delay is not None:
                notes.append(f"{n} got no programme (its feed was silent): it was not watched")
        if self.quiet_s > 0:
            notes.append(f"{self.quiet_s:.0f} s of quiet programme or silence were skipped (the estimate held)")
        if self.delay is None:
            notes.append("no feed-to-mic delay was found: nothing was judged")
        return {"verdict": self.verdict(), "events": [e.to_dict() for e in self.events], "coverage": coverage,
                "meta": {"fs": self.fs, "speakers": list(self.names), "programme_s": round(self.n_in / self.fs, 2),
                         "delay_samples": self.delay, "tau_s": self.tau_s,
                         "latency_samples": (self.latency if self.latency is not None else
                                             round(self._latency_est + (self.arrival_offset_s or 0.0) * self.fs, 2)), "eval_period_s": self.eval_period / self.fs,
                         "evaluations": self.n_evals, "window_samples": {"long": self.n_long, "short": self.n_short},
                         "split_hz": F_SPLIT_HZ, "gain_offset_db": self.gain_offset_db,
                         "source": "programme", "message": self.summary(), "now": self.speaker_lines(),
                         "notes": notes}}


def record_watch(history: Any, watch: Watch, *, profile_name: str, profile_hash: str,
                 meta: Mapping[str, Any] | None = None, time_utc: str = "") -> int:
    """Store the watch's present judgement in the history, marked as from programme.

    The entry is a verification row (beside the sweep verifications) whose ``meta.source`` is
    ``"programme"`` and whose id starts with ``watch-``; its verdict is the worst verdict
    reported *now* (not ever), its checks the newest value of every judged check with its
    reported verdict, its message starts with ``from programme:``.

    Returns
    -------
    int
        The row id (``monitor.history.History.add_verification``).
    """
    from monitor.history import utc_now_iso

    stamp = time_utc or utc_now_iso()
    checks = []
    for key, c in watch.last.items():
        v = watch.reported.get(key, "pass") if c.verdict != "skip" else "skip"
        checks.append(CheckResult(c.name, c.channel, c.value, c.limit, c.unit, v, c.uncertainty,
                                  band_hz=c.band_hz, message=c.message, warn_limit=c.warn_limit))
    worst = max((_ORDER[c.verdict] for c in checks), default=0)
    res = watch.result()
    m = {"source": "programme", "kind": "watch", "programme_s": res["meta"]["programme_s"],
         "coverage": res["coverage"], "notes": res["meta"]["notes"], **dict(meta or {})}
    mid = "watch-" + stamp.replace("-", "").replace(":", "")
    return history.add_verification(profile_name=profile_name, profile_hash=profile_hash,
                                    verdict=("pass", "warn", "fail")[worst], checks=checks, measurement_id=mid,
                                    message="from programme: " + watch.summary(), time_utc=stamp, meta=m)
