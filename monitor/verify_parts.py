"""Smaller parts of ``monitor.verify``: the baseline's stored uncertainty, the sweep-gain
normalisation of SNR, the air-temperature compensation of arrival times and the monitor-path
checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from calib.types import ImpulseResponse
from calib.verification_types import CheckResult
from monitor import verify_signal as vs


@dataclass(frozen=True)
class MonitorPathState:
    """What the monitor engine reports about the filters in the path.

    Parameters
    ----------
    running_hash : str or None
        ``content_hash()`` of the profile the engine is running; None when no engine was probed.
    bypass_exact : bool or None
        True when the engine's bypass output equals its input bit for bit; None when untested.
    source : str
        Where this came from (``"engine render"``, ``"live engine"``...), for the report.
    """

    running_hash: str | None = None
    bypass_exact: bool | None = None
    source: str = ""


def _ref_band_u(stored: Any, name: str, band: int, n_bands: int, ref_meta: Mapping[str, Any]) -> float | None:
    """Standard uncertainty of the baseline's level in one band: its stored sweep-to-sweep
    repeatability ``s`` (dB; per speaker mapping, or one list, or one number) over √(repeats
    averaged into the baseline).  None when the baseline stores none (then assumed equal to
    the new measurement's)."""
    if isinstance(stored, Mapping):
        stored = stored.get(name)
    if stored is None:
        return None
    try:
        arr = np.atleast_1d(np.asarray(stored, dtype=float))
    except (TypeError, ValueError):
        return None
    if arr.size == 0:
        return None
    s_b = float(arr[band]) if arr.size == n_bands else float(np.nanmedian(arr))
    if not math.isfinite(s_b):
        return None
    try:
        n_ref = max(int(ref_meta.get("repeats", 1) or 1), 1)
    except (TypeError, ValueError):
        n_ref = 1
    return s_b / math.sqrt(n_ref)


def _sweep_gain_db(ir: ImpulseResponse) -> float:
    """``10·lg(T_sweep / 1 s) + level_dbfs`` from the IR's measurement metadata (NaN if unknown)."""
    meta = dict(ir.meta or {})
    sweep = meta.get("sweep") if isinstance(meta.get("sweep"), Mapping) else {}
    dur = sweep.get("duration_s")
    level = meta.get("level_dbfs", sweep.get("level_dbfs"))
    try:
        dur_f, level_f = float(dur), float(level)
    except (TypeError, ValueError):
        return math.nan
    if not (dur_f > 0 and math.isfinite(level_f)):
        return math.nan
    return 10.0 * math.log10(dur_f) + level_f


def _path_s(reference: ImpulseResponse) -> np.ndarray:
    """Baseline propagation times (s) from the IR's timing, NaN where unknown."""
    arr = reference.arrival_samples
    if len(arr) != reference.n_channels:
        return np.full(reference.n_channels, np.nan)
    return (np.asarray(arr, dtype=float) - reference.onset_samples) / reference.fs


def _temperature_alpha(delta_k: float, t: Mapping[str, Any]) -> float:
    return -delta_k / (2.0 * (273.15 + t["air_c"]))


def _temperature_check(reference: ImpulseResponse, d_mean: np.ndarray, t: Mapping[str, Any],
                       names: Sequence[str]) -> CheckResult:
    """Are all arrival changes one change of the speed of sound?  ``pass`` (compensated) only
    when the fit leaves every speaker within ``max_residual_s`` and the change is plausible."""
    path = _path_s(reference)
    if len(names) < 2 or not np.all(path > 0.0005):
        return CheckResult("temperature", "", math.nan, t["max_change_k"], "K", "skip",
                           message="arrival times not compensated for air temperature (needs two or more "
                                   "speakers with known propagation times)")
    delta_k, resid = vs.temperature_fit(d_mean, path, air_c=t["air_c"])
    worst = float(np.max(np.abs(resid)))
    if abs(delta_k) <= t["max_change_k"] and worst <= t["max_residual_s"] and np.any(np.abs(d_mean) > 0):
        msg = (f"arrival times all scaled as by air {abs(delta_k):.1f} K "
               f"{'warmer' if delta_k > 0 else 'cooler'} than at the baseline; compensated")
        if abs(delta_k) < 0.05:
            msg = "arrival times agree with the baseline (air temperature unchanged)"
        return CheckResult("temperature", "", delta_k, t["max_change_k"], "K", "pass", message=msg)
    return CheckResult("temperature", "", delta_k, t["max_change_k"], "K", "skip",
                       message=f"arrival changes are not one change of air temperature (best fit {delta_k:+.1f} K "
                               f"leaves {worst * 1e6:.0f} us); judged as measured")


def _monitor_checks(monitor: MonitorPathState | None, profile_hash: str) -> list[CheckResult]:
    out = []
    if monitor is None or monitor.running_hash is None:
        out.append(CheckResult("monitor_hash", "", math.nan, math.nan, "", "skip",
                               message="monitor engine not probed: the filters in the path were not checked"))
    elif monitor.running_hash == profile_hash:
        out.append(CheckResult("monitor_hash", "", 1.0, 1.0, "", "pass",
                               message=f"running filters are the certified profile ({profile_hash[:12]})"))
    else:
        out.append(CheckResult("monitor_hash", "", 0.0, 1.0, "", "fail",
                               message=f"running filters ({monitor.running_hash[:12]}) are not the certified profile "
                                       f"({profile_hash[:12]}); load the certified profile in the monitor engine"))
    if monitor is None or monitor.bypass_exact is None:
        out.append(CheckResult("monitor_bypass", "", math.nan, math.nan, "", "skip", message="bypass not tested"))
    else:
        ok = bool(monitor.bypass_exact)
        out.append(CheckResult("monitor_bypass", "", 1.0 if ok else 0.0, 1.0, "", "pass" if ok else "fail",
                               message="bypass is bit-exact" if ok else "bypass changes the signal; it must be bit-exact"))
    return out
