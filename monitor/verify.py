"""Room verification: does the calibrated room still measure like its baseline?

:func:`verify_room` compares a new short measurement (one :class:`~calib.types.ImpulseResponse`
per repeated sweep, all speakers in each) with the profile's reference IRs and returns a
:class:`~calib.verification_types.VerificationResult`.

What is compared, per speaker unless said otherwise
---------------------------------------------------
* ``level`` — median third-octave level change over 250 Hz–4 kHz (dB).  The median makes one
  changed band show up as a band deviation, not as a level change.
* ``band_deviation`` — per third-octave band, the level change minus ``level`` (dB), judged
  against a frequency-dependent tolerance mask.
* ``arrival`` — change of the direct-sound arrival time (ms), sub-sample, from the
  interpolated cross-correlation of the direct sounds, on the IRs' common time axis
  (latency already removed by the loopback during deconvolution).
* ``polarity`` — sign of that correlation (inverted ⇒ fail).
* ``mic_position`` — if two or more speakers' arrivals moved beyond ``max_shift_s`` the mic is
  not where the baseline was (or the latency changed): the run is **refused** with a sentence
  instead of reporting false drift.
* ``channel_match`` — change of the level difference of every pair of mains (dB).
* ``pair_level`` — (profiles only, warn-level) the corrected mains' absolute level difference
  at 500-2000 Hz against EBU Tech 3343: front pair < 0.5 dB, any pair <= 1 dB.
* ``sub_phase`` — change of the sub-to-main phase difference at the crossover (degrees).
* ``noise_floor`` — drop of the peak-to-noise ratio against the baseline (dB), and an absolute
  minimum.
* ``distortion`` — total harmonic level from the harmonic IRs (dB re the linear IR).
* ``monitor_hash`` / ``monitor_bypass`` — the running filters are the certified profile
  (content hash) and bypass is bit-exact (:class:`MonitorPathState`).

The acoustic comparison is made on the *room* (speakers driven directly, as the baseline was
measured); together with the monitor-path checks (the filters running are exactly the
certified ones) this proves the corrected chain is unchanged.

Uncertainty and verdicts (ISO/IEC Guide 98-3 style, k = 2)
-----------------------------------------------------------
With N repeated sweeps, the standard uncertainty of a mean figure is ``s/√N`` (``s`` the
sweep-to-sweep standard deviation).  The baseline's uncertainty is taken from
``reference.meta["band_repeatability_db"]`` / ``["arrival_repeatability_s"]`` when the
profile stores it, otherwise assumed equal to the new measurement's (same rig).  The expanded
uncertainty is ``U = k·√(u_new² + u_ref²)``, never below the configured floor.  A drift is
reported only when ``|value| > U``; it fails only when ``|value| − U`` exceeds the limit
(ISO 14253-1 decision rule: non-conformance proven), warns above the warn threshold.

Tolerances come from ``monitor/data/verify_tolerances.toml``; a profile's ``tolerances``
mapping overrides any key (same table and key names).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import replace
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np

from calib.analysis.bands import nominal_label, third_octave_centres_hz
from calib.errors import ConfigError, VerificationError, require_same_fs
from calib.profile import CalibrationProfile
from calib.types import ImpulseResponse
from calib.verification_types import CheckResult, VerificationResult
from monitor import verify_signal as vs
from monitor.verify_parts import (
    MonitorPathState,
    _monitor_checks,
    _path_s,
    _ref_band_u,
    _sweep_gain_db,
    _temperature_alpha,
    _temperature_check,
    pair_level_checks,
)

__all__ = [
    "MonitorPathState",
    "load_tolerances",
    "verify_room",
    "verify_profile",
    "overall_verdict",
    "is_sub",
    "polarity_check",
]

_SUB_RE = re.compile(r"(sub|lfe)", re.IGNORECASE)


def polarity_check(name: str, correlation: float, min_similarity: float) -> CheckResult:
    """The polarity verdict and its sentence (sweep verification and the programme watch say
    the same): inverted below 0, a warning below ``min_similarity``, else unchanged."""
    c = correlation
    if c < 0:
        verdict, msg = "fail", f"{name} polarity is inverted against the baseline (correlation {c:+.2f})"
    elif c < min_similarity:
        verdict, msg = "warn", f"{name} direct sound no longer resembles the baseline (correlation {c:+.2f})"
    else:
        verdict, msg = "pass", f"{name} polarity unchanged (correlation {c:+.2f})"
    return CheckResult("polarity", name, c, 0.0, "corr", verdict, message=msg, warn_limit=min_similarity)

def is_sub(name: str) -> bool:
    """True for a subwoofer/LFE speaker name (``SUB``, ``Sub1``, ``LFE``)."""
    return bool(_SUB_RE.search(name))


# ---------------------------------------------------------------------------- tolerances
_KEYS: dict[str, dict[str, type]] = {
    "uncertainty": {"coverage_k": float, "floor_db": float, "floor_s": float},
    "level": {"band_lo_hz": float, "band_hi_hz": float, "warn_db": float, "fail_db": float},
    "response": {"lo_hz": float, "hi_hz": float, "warn_fraction": float, "mask": list},
    "arrival": {"warn_s": float, "fail_s": float},
    "mic_position": {"max_shift_s": float},
    "polarity": {"min_similarity": float},
    "channel_match": {"warn_db": float, "fail_db": float},
    "sub_phase": {"crossover_hz": float, "warn_deg": float, "fail_deg": float},
    "noise_floor": {"warn_db": float, "fail_db": float, "min_snr_db": float, "ignore_above_db": float},
    "distortion": {"warn_db": float, "fail_db": float},
    "temperature": {"air_c": float, "max_change_k": float, "max_residual_s": float},
    "pair_level": {"band_lo_hz": float, "band_hi_hz": float, "front_pair_db": float, "any_pair_db": float},
}


def _default_tolerances() -> dict[str, dict[str, Any]]:
    text = resources.files("monitor").joinpath("data/verify_tolerances.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_tolerances(overrides: Mapping[str, Any] | None = None, *, strict: bool = False) -> dict[str, dict[str, Any]]:
    """The default tolerance tables with ``overrides`` applied.

    ``overrides`` is a profile's ``tolerances`` mapping or a user's TOML table.  When it holds
    a ``verify`` table, that table is used.  A profile's ``tolerances`` also carries keys for
    other consumers (e.g. the correction designer's ``regression_limit_db``), so unknown
    top-level keys are ignored unless ``strict``; unknown keys *inside* a known table are
    always errors (a typo would otherwise silently keep the default).

    Raises
    ------
    ConfigError
        Unknown keys, non-numeric values or a malformed mask; all problems listed in one
        sentence.
    """
    tol = _default_tolerances()
    problems: list[str] = []
    src = dict(overrides or {})
    if isinstance(src.get("verify"), Mapping):
        src, strict = dict(src["verify"]), True
    for table, keys in src.items():
        if table not in _KEYS:
            if strict:
                problems.append(f"unknown table [{table}] (known: {', '.join(_KEYS)})")
            continue
        if not isinstance(keys, Mapping):
            problems.append(f"[{table}] must be a table of keys, got {keys!r}")
            continue
        for k, v in keys.items():
            if k not in _KEYS[table]:
                problems.append(f"unknown key {table}.{k}")
                continue
            tol[table][k] = v
    for table, keys in _KEYS.items():
        for k, typ in keys.items():
            v = tol.get(table, {}).get(k)
            if typ is float:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    problems.append(f"{table}.{k} must be a number, got {v!r}")
                else:
                    tol[table][k] = float(v)
    mask = tol["response"].get("mask")
    try:
        pts = [(float(f), float(d)) for f, d in mask]
        if not pts or any(d <= 0 for _, d in pts) or any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
            raise ValueError
        tol["response"]["mask"] = pts
    except (TypeError, ValueError):
        problems.append(f"response.mask must be [[from_hz, fail_db], ...] with ascending frequencies and limits > 0, got {mask!r}")
    for table in ("level", "channel_match", "noise_floor"):
        t = tol[table]
        if isinstance(t.get("warn_db"), float) and isinstance(t.get("fail_db"), float) and t["warn_db"] > t["fail_db"]:
            problems.append(f"{table}.warn_db {t['warn_db']} is above {table}.fail_db {t['fail_db']}")
    if problems:
        raise ConfigError("verification tolerances are invalid: " + "; ".join(problems))
    return tol


def _mask_limit_db(mask: Sequence[tuple[float, float]], f_hz: float) -> float:
    limit = mask[0][1]
    for f0, d in mask:
        if f_hz >= f0 * 0.99:  # nominal vs exact mid-band frequencies
            limit = d
    return limit


# ---------------------------------------------------------------------------- verdicts
def _judge(value: float, u: float, warn: float, fail: float) -> str:
    """Decision rule of the module docstring on ``|value|`` with expanded uncertainty ``u``."""
    if not math.isfinite(value):
        return "skip"
    a = abs(value)
    if a <= u:
        return "pass"
    if a - u > fail:
        return "fail"
    if a > warn:
        return "warn"
    return "pass"


def overall_verdict(checks: Sequence[CheckResult]) -> str:
    """``fail`` if any check failed, else ``warn`` if any warned, else ``pass``."""
    vs_ = {c.verdict for c in checks}
    return "fail" if "fail" in vs_ else "warn" if "warn" in vs_ else "pass"


def _expanded(u_new: float, u_ref: float | None, *, k: float, floor: float) -> float:
    u_r = u_new if u_ref is None or not math.isfinite(u_ref) else u_ref
    return max(k * math.sqrt(u_new**2 + u_r**2), floor)


def _sem(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard uncertainty of the mean of repeats (s/√N); zero for one repeat."""
    n = x.shape[axis]
    if n < 2:
        return np.zeros(np.delete(x.shape, axis))
    return np.std(x, axis=axis, ddof=1) / math.sqrt(n)


# ---------------------------------------------------------------------------- the comparison
def _check_inputs(reference: ImpulseResponse, repeats: Sequence[ImpulseResponse]) -> list[int]:
    if not repeats:
        raise VerificationError("no new measurement to verify; measure at least one sweep per speaker")
    idx = []
    for r in repeats:
        require_same_fs(fs_a=reference.fs, fs_b=r.fs, what_a="the profile's reference", what_b="the new measurement")
        if r.channel_names != repeats[0].channel_names:
            raise VerificationError(
                f"repeated sweeps measured different speakers ({', '.join(r.channel_names)} vs "
                f"{', '.join(repeats[0].channel_names)}); measure the same speakers every repeat"
            )
    missing = [c for c in reference.channel_names if c not in repeats[0].channel_names]
    if missing:
        raise VerificationError(
            f"the new measurement lacks speaker(s) {', '.join(missing)} of the reference "
            f"({', '.join(reference.channel_names)}); measure every speaker of the profile"
        )
    for c in reference.channel_names:
        idx.append(repeats[0].channel_names.index(c))
    return idx


def verify_room(
    reference: ImpulseResponse,
    repeats: Sequence[ImpulseResponse],
    *,
    profile_name: str = "",
    profile_hash: str = "",
    tolerances: Mapping[str, Any] | None = None,
    crossover_hz: float | None = None,
    monitor: MonitorPathState | None = None,
    time_utc: str = "",
    measurement_id: str = "",
) -> VerificationResult:
    """Compare repeated new measurements with the baseline and judge every check.

    Parameters
    ----------
    reference : ImpulseResponse
        Baseline IRs, one channel per speaker (the profile's ``reference``).
    repeats : sequence of ImpulseResponse
        One IR set per repeated sweep (same speakers, same ``fs``).  Two or more give a
        measured repeatability; one uses the uncertainty floors only.
    profile_name, profile_hash : str
        The certified profile (for the monitor-path check and the history).
    tolerances : mapping, optional
        Overrides of the default tolerance tables (``load_tolerances``).
    crossover_hz : float, optional
        Sub/main crossover (Hz); ``sub_phase.crossover_hz`` when omitted.
    monitor : MonitorPathState, optional
        The monitor engine's report; monitor checks are skipped when omitted.

    Raises
    ------
    VerificationError
        No repeats, missing speakers, or speakers that differ between repeats.
    SignalError
        Sample rates differ, or a silent IR.
    """
    from monitor.history import utc_now_iso

    tol = load_tolerances(tolerances)
    ch_idx = _check_inputs(reference, repeats)
    fs = reference.fs
    names = reference.channel_names
    k_cov = tol["uncertainty"]["coverage_k"]
    floor_db, floor_s = tol["uncertainty"]["floor_db"], tol["uncertainty"]["floor_s"]
    n_rep = len(repeats)
    ref_meta = dict(reference.meta or {})

    # common length from each IR's start (band levels are insensitive to small shifts)
    n_common = min(reference.n_samples, *(r.n_samples for r in repeats))
    ref_x = reference.samples[:, :n_common]
    new_x = np.stack([r.samples[ch_idx, :n_common] for r in repeats])  # (n_rep, n_ch, n)

    # ---------------------------------------------------------------- band levels
    rsp = tol["response"]
    hi_hz = min(rsp["hi_hz"], fs / 2 / 1.2)
    centres = third_octave_centres_hz(rsp["lo_hz"], hi_hz)
    n_fft = vs._next_pow2(2 * n_common)
    lref = vs.band_levels_db(ref_x, centres, fs=fs, n_fft=n_fft)                          # (n_ch, n_b)
    lnew = np.stack([vs.band_levels_db(x, centres, fs=fs, n_fft=n_fft) for x in new_x])    # (n_rep, n_ch, n_b)
    diff_rep = lnew - lref[None]
    diff = diff_rep.mean(axis=0)
    u_band = _sem(lnew, axis=0)
    lv = tol["level"]
    f_xo = float(crossover_hz or tol["sub_phase"]["crossover_hz"])
    in_level = (centres >= lv["band_lo_hz"] / 1.01) & (centres <= lv["band_hi_hz"] * 1.01)
    if not in_level.any():
        raise ConfigError(f"level.band_lo_hz..band_hi_hz {lv['band_lo_hz']}..{lv['band_hi_hz']} Hz holds no third-octave band")
    # a subwoofer's level is its own band's: from the lowest band up to the crossover
    in_sub = centres <= f_xo * 1.01
    if not in_sub.any():
        in_sub = np.arange(centres.size) < 3
    level = np.empty(len(names))
    level_rep = np.empty((n_rep, len(names)))
    for i, name in enumerate(names):
        m = in_sub if is_sub(name) else in_level
        level[i] = np.median(diff[i, m])
        level_rep[:, i] = np.median(diff_rep[:, i, m], axis=1)
    u_level = _sem(level_rep, axis=0)
    u_band_ref = ref_meta.get("band_repeatability_db")

    checks: list[CheckResult] = []
    for i, name in enumerate(names):
        U = _expanded(float(u_level[i]), None, k=k_cov, floor=floor_db)
        v = float(level[i])
        checks.append(CheckResult(
            "level", name, v, lv["fail_db"], "dB", _judge(v, U, lv["warn_db"], lv["fail_db"]), U,
            message=f"{name} level changed by {v:+.2f} dB (±{U:.2f} dB)", warn_limit=lv["warn_db"]))

    mask = rsp["mask"]
    for i, name in enumerate(names):
        sub = is_sub(name)
        for b, fc in enumerate(centres):
            if sub and fc > 2.0 * f_xo * 1.01:
                continue  # a subwoofer is judged in its own band only (to an octave above the crossover)
            dev = float(diff[i, b] - level[i])
            if not math.isfinite(dev):
                continue
            lim = _mask_limit_db(mask, fc)
            warn = lim * rsp["warn_fraction"]
            u_ref_b = _ref_band_u(u_band_ref, name, b, centres.size, ref_meta)
            U = _expanded(float(u_band[i, b]), u_ref_b, k=k_cov, floor=floor_db)
            checks.append(CheckResult(
                "band_deviation", name, dev, lim, "dB", _judge(dev, U, warn, lim), U, band_hz=float(fc),
                message=f"{name} {nominal_label(fc)} Hz band changed by {dev:+.2f} dB (±{U:.2f} dB, limit ±{lim:g} dB)",
                warn_limit=warn))

    # ---------------------------------------------------------------- arrival and polarity
    ar, mp, pol = tol["arrival"], tol["mic_position"], tol["polarity"]
    d_s = np.zeros((n_rep, len(names)))
    corr = np.zeros((n_rep, len(names)))
    for r, rep in enumerate(repeats):
        shift = float(rep.onset_samples - reference.onset_samples)
        for i, name in enumerate(names):
            pre, post = (0.005, 0.025) if is_sub(name) else (0.001, 0.003)
            d_s[r, i], corr[r, i] = vs.arrival_change(reference.samples[i], rep.samples[ch_idx[i]], fs=fs,
                                                      pre_s=pre, post_s=post, origin_shift_samples=shift)
    d_mean = d_s.mean(axis=0)
    u_arr = _sem(d_s, axis=0)
    u_arr_ref = ref_meta.get("arrival_repeatability_s")
    U_arr = np.array([_expanded(float(u_arr[i]), u_arr_ref, k=k_cov, floor=floor_s) for i in range(len(names))])
    checks.append(_temperature_check(reference, d_mean, tol["temperature"], names))
    if checks[-1].verdict == "pass":  # the air, not the room: judge what the temperature does not explain
        d_mean = d_mean - _temperature_alpha(checks[-1].value, tol["temperature"]) * _path_s(reference)
    for i, name in enumerate(names):
        v = float(d_mean[i])
        checks.append(CheckResult(
            "arrival", name, v * 1e3, ar["fail_s"] * 1e3, "ms", _judge(v, U_arr[i], ar["warn_s"], ar["fail_s"]),
            U_arr[i] * 1e3, message=f"{name} arrives {v * 1e3:+.3f} ms (±{U_arr[i] * 1e3:.3f} ms) against the baseline",
            warn_limit=ar["warn_s"] * 1e3))
        checks.append(polarity_check(name, float(np.mean(corr[:, i])), pol["min_similarity"]))

    # mic position: refuse when >= 2 speakers moved beyond the uncertainty-widened limit
    refused = ""
    moved = [i for i in range(len(names)) if abs(d_mean[i]) - U_arr[i] > mp["max_shift_s"]]
    worst = float(np.max(np.abs(d_mean)))
    if len(names) < 2:
        checks.append(CheckResult("mic_position", "", worst * 1e3, mp["max_shift_s"] * 1e3, "ms", "skip",
                                  message="one speaker only: a moved mic cannot be told from a moved speaker"))
    elif len(moved) >= 2:
        parts = ", ".join(f"{names[i]} {d_mean[i] * 1e3:+.3f} ms ({abs(d_mean[i]) * 343.2e3 / 10:.1f} cm)" for i in moved)
        refused = (f"the mic is not where the baseline was measured: arrival times moved for {parts}; "
                   "put the mic back at the stored measurement position (or check that the interface "
                   "latency and loopback are unchanged) and run again; no drift was judged")
        checks.append(CheckResult("mic_position", "", worst * 1e3, mp["max_shift_s"] * 1e3, "ms", "fail", message=refused))
    else:
        checks.append(CheckResult("mic_position", "", worst * 1e3, mp["max_shift_s"] * 1e3, "ms", "pass",
                                  message="mic is at the baseline position (arrival times agree)"))

    # ---------------------------------------------------------------- channel matching (mains)
    cm = tol["channel_match"]
    mains = [i for i, n in enumerate(names) if not is_sub(n)]
    for a_i, a in enumerate(mains):
        for b in mains[a_i + 1:]:
            v = float(level[a] - level[b])
            U = math.sqrt(checks[a].uncertainty**2 + checks[b].uncertainty**2)
            checks.append(CheckResult(
                "channel_match", f"{names[a]}-{names[b]}", v, cm["fail_db"], "dB",
                _judge(v, U, cm["warn_db"], cm["fail_db"]), U,
                message=f"{names[a]} vs {names[b]} level difference changed by {v:+.2f} dB", warn_limit=cm["warn_db"]))

    # ---------------------------------------------------------------- sub / main phase at the crossover
    sp = tol["sub_phase"]
    for s in [i for i, n in enumerate(names) if is_sub(n)]:
        for m in mains:
            ref_rel = vs.response_at(ref_x[s], f_xo, fs=fs) / vs.response_at(ref_x[m], f_xo, fs=fs)
            ph = []
            for x in new_x:
                rel = vs.response_at(x[s], f_xo, fs=fs) / vs.response_at(x[m], f_xo, fs=fs)
                ph.append(math.degrees(np.angle(rel / ref_rel)))
            ph_a = np.asarray(ph)
            v = float(math.degrees(np.angle(np.mean(np.exp(1j * np.radians(ph_a))))))
            U = max(k_cov * math.sqrt(2) * float(_sem(ph_a[:, None], axis=0)[0]), 0.5)
            checks.append(CheckResult(
                "sub_phase", f"{names[s]}-{names[m]}", v, sp["fail_deg"], "deg", _judge(v, U, sp["warn_deg"], sp["fail_deg"]), U,
                band_hz=f_xo, message=f"{names[s]} to {names[m]} phase at {f_xo:g} Hz changed by {v:+.1f} deg",
                warn_limit=sp["warn_deg"]))

    # ---------------------------------------------------------------- noise floor and distortion
    nf, dist = tol["noise_floor"], tol["distortion"]
    for i, name in enumerate(names):
        snr_ref = reference.snr_db[i] if len(reference.snr_db) == len(names) else math.nan
        snr_new = [rep.snr_db[ch_idx[i]] if len(rep.snr_db) == rep.n_channels else math.nan for rep in repeats]
        how = "pre-roll SNR"
        if not (math.isfinite(snr_ref) and all(math.isfinite(v) for v in snr_new)):
            snr_ref = vs.peak_to_tail_db(ref_x[i])
            snr_new = [vs.peak_to_tail_db(x[i]) for x in new_x]
            how = "peak-to-tail ratio"
        s_new = float(np.mean(snr_new))
        # a longer or louder sweep raises the IR's SNR by 10·lg(T) + level (Farina 2000):
        # compare like with like when both measurements say how they were made
        adjust = 0.0
        if how == "pre-roll SNR":
            o_ref, o_new = _sweep_gain_db(reference), [_sweep_gain_db(rep) for rep in repeats]
            if math.isfinite(o_ref) and all(math.isfinite(o) for o in o_new):
                adjust = float(np.mean(o_new)) - o_ref
        drop = float(snr_ref - s_new + adjust)
        if not math.isfinite(drop):
            checks.append(CheckResult("noise_floor", name, math.nan, nf["fail_db"], "dB", "skip", message=f"{name}: no SNR known"))
            continue
        verdict = _judge(max(drop, 0.0), 0.0, nf["warn_db"], nf["fail_db"])
        msg = f"{name} {how} {s_new:.1f} dB ({-drop:+.1f} dB against the baseline)"
        if s_new >= nf["ignore_above_db"]:
            # e.g. a digital path: the "noise" is arithmetic round-off, far below anything judged
            verdict, msg = "pass", msg + f"; above {nf['ignore_above_db']:g} dB the noise floor does not matter"
        if s_new < nf["min_snr_db"]:
            verdict, msg = "fail", msg + f"; below the {nf['min_snr_db']:g} dB needed to trust the figures"
        checks.append(CheckResult("noise_floor", name, drop, nf["fail_db"], "dB", verdict, message=msg, warn_limit=nf["warn_db"]))
    for i, name in enumerate(names):
        levels, floors, limited = [], [], []
        for rep in repeats:
            lin = rep.samples[ch_idx[i]]
            hs = [np.asarray(h[ch_idx[i]]) for k, h in sorted(rep.harmonics.items()) if k >= 2]
            nms, n_est = vs.noise_power(lin, hs, onset_samples=rep.onset_samples)
            lv_db, fl_db, lim = vs.harmonic_level_db(lin, hs, noise_ms=nms, noise_n=n_est)
            levels.append(lv_db)
            floors.append(fl_db)
            limited.append(lim)
        v = float(np.mean(levels)) if levels and all(math.isfinite(x) for x in levels) else math.nan
        if not math.isfinite(v):
            checks.append(CheckResult("distortion", name, math.nan, dist["fail_db"], "dB", "skip",
                                      message=f"{name}: no harmonic IRs in the measurement"))
            continue
        floor = float(np.mean(floors)) if all(math.isfinite(f) for f in floors) else math.nan
        if all(limited):
            if floor > dist["warn_db"]:
                verdict, msg = "skip", (f"{name}: the noise ({floor:.1f} dB re fundamental) is too high to judge "
                                        f"distortion; measure in a quieter room or with a longer sweep")
            else:
                verdict, msg = "pass", f"{name} harmonics below the measurement noise (< {floor:.1f} dB re fundamental)"
        else:
            verdict = "fail" if v > dist["fail_db"] else "warn" if v > dist["warn_db"] else "pass"
            msg = f"{name} total harmonic level {v:.1f} dB re fundamental"
        checks.append(CheckResult("distortion", name, v, dist["fail_db"], "dB", verdict, message=msg,
                                  warn_limit=dist["warn_db"]))

    # ---------------------------------------------------------------- the monitor path
    checks.extend(_monitor_checks(monitor, profile_hash))

    verdict = "refused" if refused else overall_verdict(checks)
    message = refused if refused else _summary(checks)
    return VerificationResult(
        verdict=verdict, checks=tuple(checks), profile_name=profile_name, profile_hash=profile_hash,
        time_utc=time_utc or utc_now_iso(), message=message, measurement_id=measurement_id,
        meta={"repeats": n_rep, "fs": fs, "speakers": list(names), "crossover_hz": f_xo,
              "monitor_source": monitor.source if monitor else "",
              # sweep-to-sweep standard deviation per third-octave band (dB), NaN for one sweep:
              # the measured repeatability (a baseline can store it as band_repeatability_db)
              "bands_hz": [float(f) for f in centres],
              "band_repeatability_db": {n: [float(v) for v in (np.std(lnew[:, i, :], axis=0, ddof=1) if n_rep > 1
                                                               else np.full(centres.size, np.nan))]
                                        for i, n in enumerate(names)}},
    )


def _summary(checks: Sequence[CheckResult]) -> str:
    """One sentence for a judged run: the failed checks, else the warnings, else all well."""
    bad = [c for c in checks if c.verdict in ("fail", "warn")]
    fails = [c for c in bad if c.verdict == "fail"]
    if fails:
        room = [c for c in fails if not c.name.startswith("monitor_")]
        head = "room changed: " if room else "monitor path wrong: "
        return head + "; ".join(c.message for c in (room + [c for c in fails if c not in room])[:6])
    if bad:
        return "within tolerance, but watch: " + "; ".join(c.message for c in bad[:6])
    return "the room measures like its baseline"


def verify_profile(profile: CalibrationProfile, repeats: Sequence[ImpulseResponse], *,
                   monitor: MonitorPathState | None = None, measurement_id: str = "",
                   time_utc: str = "") -> VerificationResult:
    """:func:`verify_room` against a profile's reference, with the profile's own tolerances.

    Raises
    ------
    VerificationError
        The profile holds no reference IRs.
    """
    if profile.reference is None:
        raise VerificationError(
            f"profile {profile.name!r} holds no reference measurement to verify against; "
            "re-create it with 'roomtruth correct' from a baseline measurement"
        )
    xo = (profile.target or {}).get("crossover_hz")
    res = verify_room(
        profile.reference, repeats, profile_name=profile.name, profile_hash=profile.content_hash(),
        tolerances=profile.tolerances or None, crossover_hz=float(xo) if xo else None, monitor=monitor,
        measurement_id=measurement_id, time_utc=time_utc,
    )
    if res.verdict == "refused":
        return res
    # the corrected mains against EBU Tech 3343's absolute matching limits (warn-level)
    tol = load_tolerances(profile.tolerances or None)
    u = tol["uncertainty"]
    pairs = pair_level_checks(profile, repeats, tol["pair_level"], k=u["coverage_k"], floor_db=u["floor_db"],
                              is_sub=is_sub)
    from monitor.verify_bass import bass_sum_checks

    pairs = list(pairs) + bass_sum_checks(profile, repeats)   # bass management: mains + subs at the crossover
    if not pairs:
        return res
    checks = list(res.checks) + pairs
    return replace(res, checks=tuple(checks), verdict=overall_verdict(checks), message=_summary(checks))
