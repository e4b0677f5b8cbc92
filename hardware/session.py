"""A measurement session: probe the level safely, play each speaker's sweep, refuse faulty
captures, average repeats, deconvolve.

Safety rules (issue 2): nothing is ever played above ``max_level_dbfs``; before the first full
sweep a short sweep 30 dB below the requested level checks the path (rising 10 dB at a time
while the mic hears nothing), and the full level is then raised only as far as the SNR needs
and lowered if the capture would come within 3 dB of full scale.  A capture that clipped, lost
samples (driver status flags), dropped out, held samples, or is too noisy is refused with a
sentence saying what to change; captures that lost data are retried ``retries`` times and never
averaged in.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from calib.deconvolve import deconvolve
from calib.errors import MeasurementError
from calib.quality import CaptureReport, inspect_capture
from calib.sweep import build_stimulus, sweep_start_index
from calib.types import ImpulseResponse, Measurement, SweepSpec
from hardware.backend import AudioBackend, CaptureResult

__all__ = ["measure", "probe_level", "ProbeResult", "PROBE_DROP_DB", "HEADROOM_DB"]

PROBE_DROP_DB = 30.0      # the probe plays this far below the requested level ...
PROBE_STEP_DB = 10.0      # ... rising by this much while the mic hears nothing
PROBE_MIN_SNR_DB = 15.0   # the probe must rise this far above the noise to predict anything
HEADROOM_DB = 3.0         # a predicted capture peak above -3 dBFS lowers the level ...
TARGET_PEAK_DBFS = -6.0   # ... so that the peak lands here
SNR_MARGIN_DB = 6.0       # raise the level (within max_level_dbfs) until predicted SNR >= min + margin

Progress = Callable[[str], None]


class ProbeResult(dict):
    """Outcome of :func:`probe_level` (a dict: ``probe_level_dbfs``, ``probe_peak_dbfs``,
    ``probe_snr_db``, ``level_dbfs`` (chosen), ``predicted_peak_dbfs``, ``predicted_snr_db``)."""


def _capture(backend: AudioBackend, stim: np.ndarray, *, fs: int, outputs: tuple[int, ...],
             inputs: tuple[int, ...]) -> CaptureResult:
    block = np.tile(stim.astype(np.float32), (len(outputs), 1))
    res = backend.play_record(block, fs=fs, output_channels=outputs, input_channels=inputs)
    rec = np.asarray(res.recording, dtype=np.float64)
    if rec.ndim != 2 or rec.shape[0] != len(inputs) or rec.shape[1] != stim.size:
        raise MeasurementError(
            f"the backend {getattr(backend, 'name', '?')} returned a capture of shape {rec.shape}, "
            f"expected ({len(inputs)}, {stim.size}); the device is misbehaving"
        )
    return res


def probe_level(backend: AudioBackend, *, sweep: SweepSpec, output: int, mic_input: int,
                max_level_dbfs: float, min_snr_db: float, loopback_input: int | None = None,
                extra_outputs: tuple[int, ...] = (), retries: int = 1,
                progress: Progress | None = None) -> ProbeResult:
    """Play short low-level sweeps on one speaker and choose the full sweep's level.

    Returns the chosen level (never above ``max_level_dbfs``) and the predictions; raises
    :class:`MeasurementError` when the path clips even at the probe level, loses data, or when
    no allowed level would give ``min_snr_db``.
    """
    fs = sweep.fs
    want = min(sweep.level_dbfs, max_level_dbfs)
    level = max(want - PROBE_DROP_DB, -100.0)
    spec = replace(sweep, duration_s=min(1.0, sweep.duration_s), preroll_s=max(sweep.preroll_s, 0.2),
                   tail_s=min(max(sweep.tail_s, 0.3), 0.5))
    outputs = (output, *extra_outputs)
    inputs = (mic_input,) if loopback_input is None else (mic_input, loopback_input)
    attempt = 0
    while True:
        p = replace(spec, level_dbfs=level)
        if progress:
            progress(f"level check: short sweep at {level:.0f} dBFS")
        res = _capture(backend, build_stimulus(p), fs=fs, outputs=outputs, inputs=inputs)
        rep = inspect_capture(res.recording[0], fs=fs, sweep_start=sweep_start_index(p),
                              what=f"the level check at {level:.0f} dBFS", min_snr_db=None,
                              status_flags=tuple(res.status_flags), lost_samples=res.lost_samples)
        if rep.n_clipped:
            raise MeasurementError(
                f"the mic input clips already during the quiet level check at {level:.0f} dBFS: "
                f"lower the mic input gain by at least {PROBE_DROP_DB:.0f} dB and measure again"
            )
        if rep.problems:
            if rep.lost_data and attempt < retries:
                attempt += 1
                continue
            raise MeasurementError(rep.problems[0])
        if loopback_input is not None:
            loop_peak = float(np.max(np.abs(res.recording[1])))
            if loop_peak < 0.1 * 10 ** (level / 20):
                raise MeasurementError(
                    f"the loopback input {loopback_input + 1} does not carry the sweep (it peaks at "
                    f"{20 * np.log10(loop_peak + 1e-30):.0f} dBFS while {level:.0f} dBFS was played); check the "
                    "loopback cable and loopback_input/loopback_output in room.toml, or set loopback_input = 0"
                )
        snr = rep.snr_db
        if progress:   # the mic meter of a front end reads this line (roomtruth serve)
            progress(f"mic level: peak {rep.peak_dbfs:.1f} dBFS, {snr:.1f} dB above the noise")
        if snr >= PROBE_MIN_SNR_DB or level >= want:
            break
        level = min(level + PROBE_STEP_DB, want)
    peak = rep.peak_dbfs

    def pred_peak(lv: float) -> float:
        return peak + (lv - level)

    def pred_snr(lv: float) -> float:
        return snr + (lv - level)  # broadband SNR scales with the level (noise fixed)

    chosen = sweep.level_dbfs
    if chosen > max_level_dbfs:
        chosen = max_level_dbfs
    if math.isfinite(snr) and pred_snr(chosen) < min_snr_db + SNR_MARGIN_DB:
        chosen = min(max_level_dbfs, chosen + (min_snr_db + SNR_MARGIN_DB - pred_snr(chosen)))
    if pred_peak(chosen) > -HEADROOM_DB:
        chosen = chosen - (pred_peak(chosen) - TARGET_PEAK_DBFS)
    chosen = round(min(chosen, max_level_dbfs), 2)
    if snr < 3.0 and level >= want:
        raise MeasurementError(
            f"the mic does not hear output {output + 1}: even at {level:.0f} dBFS the capture is only "
            f"{snr:.1f} dB above the background noise; check that the speaker is on, the output channel "
            f"is right, and the mic (input {mic_input + 1}, phantom power, cable) works"
        )
    if math.isfinite(snr) and pred_snr(chosen) < min_snr_db:
        if pred_peak(chosen) >= -HEADROOM_DB - 3:
            what = "make the room quieter or move the mic closer; the input is already near full scale"
        else:
            what = (f"raise the mic input gain by {math.ceil(min_snr_db - pred_snr(chosen))} dB "
                    "or make the room quieter")
        raise MeasurementError(
            f"the sweep would be only {pred_snr(chosen):.1f} dB above the background noise at "
            f"{chosen:.1f} dBFS (the most that the input headroom and max_level_dbfs={max_level_dbfs:g} allow), "
            f"{min_snr_db:g} dB is needed: {what}"
        )
    return ProbeResult(probe_level_dbfs=level, probe_peak_dbfs=peak, probe_snr_db=snr,
                       level_dbfs=chosen, predicted_peak_dbfs=pred_peak(chosen),
                       predicted_snr_db=pred_snr(chosen))


def measure(backend: AudioBackend, *, sweep: SweepSpec, speakers: Sequence[tuple[str, int]],
            mic_input: int, loopback_input: int | None = None, loopback_output: int | None = None,
            repeats: int = 1, max_level_dbfs: float = -6.0, min_snr_db: float = 30.0,
            probe: bool = True, retries: int = 1, n_harmonics: int = 5,
            ir_length_s: float | None = None, meta: Mapping[str, Any] | None = None,
            progress: Progress | None = None) -> tuple[Measurement, ImpulseResponse]:
    """Measure every speaker at one mic position.

    Parameters
    ----------
    backend : AudioBackend
        Where the sound goes (PortAudio, the JACK rig, :class:`hardware.simulated.SimulatedRoom`).
    sweep : SweepSpec
        Sweep and silences; ``level_dbfs`` is the requested level.
    speakers : sequence of (name, output)
        Speaker names and their 0-based output channels, measured one after the other.
    mic_input : int
        0-based mic input channel.
    loopback_input : int, optional
        0-based input wired to the output (timing and interface response reference).
    loopback_output : int, optional
        0-based dedicated output feeding the loopback input; the sweep is played there too.
        Without it the loopback input is expected to carry the speaker output itself.
    repeats : int
        Sweeps per speaker, averaged (SNR +3 dB per doubling, STANDARDS.md §1.4).
    max_level_dbfs : float
        Nothing is played above this peak level.
    min_snr_db : float
        Lowest accepted broadband capture SNR (dB) of the averaged capture.
    probe : bool
        Run the low-level check before the first full sweep (on the first speaker).
    retries : int
        Extra attempts for a capture that lost data (status flags, dropouts).

    Returns
    -------
    (Measurement, ImpulseResponse)

    Raises
    ------
    MeasurementError
        A refused capture (clipping, lost data after retries, SNR), bad arguments.
    """
    if not speakers:
        raise MeasurementError("no speakers to measure; list at least one (name, output channel)")
    names = [str(n) for n, _ in speakers]
    if len(set(names)) != len(names):
        raise MeasurementError(f"speaker names must be unique, got {', '.join(names)}")
    if int(repeats) < 1 or int(repeats) != repeats:
        raise MeasurementError(f"repeats must be a whole number >= 1, got {repeats}")
    if max_level_dbfs > 0:
        raise MeasurementError(f"max_level_dbfs {max_level_dbfs:g} is above full scale; use a level <= 0 dBFS")
    fs = sweep.fs
    info: dict[str, Any] = {}
    level = min(sweep.level_dbfs, max_level_dbfs)
    extra_out = () if loopback_output is None else (int(loopback_output),)
    if probe:
        pr = probe_level(backend, sweep=sweep, output=int(speakers[0][1]), mic_input=mic_input,
                         max_level_dbfs=max_level_dbfs, min_snr_db=min_snr_db,
                         loopback_input=loopback_input, extra_outputs=extra_out, retries=retries,
                         progress=progress)
        info["probe"] = dict(pr)
        level = pr["level_dbfs"]
    if level > max_level_dbfs:  # belt and braces: the one rule that must never break
        raise MeasurementError(f"refusing to play at {level} dBFS, above max_level_dbfs {max_level_dbfs}")
    spec = replace(sweep, level_dbfs=level)
    stim = build_stimulus(spec)
    start = sweep_start_index(spec)
    inputs = (int(mic_input),) + (() if loopback_input is None else (int(loopback_input),))
    mics, refs, reports, flags_seen = [], [], {}, []
    device = getattr(backend, "name", type(backend).__name__)
    for name, out in speakers:
        acc_mic = np.zeros(stim.size)
        acc_ref = np.zeros(stim.size)
        for r in range(int(repeats)):
            attempt = 0
            while True:
                if progress:
                    progress(f"{name}: sweep {r + 1}/{repeats} at {level:.1f} dBFS")
                res = _capture(backend, stim, fs=fs, outputs=(int(out), *extra_out), inputs=inputs)
                rep = inspect_capture(res.recording[0], fs=fs, sweep_start=start,
                                      what=f"the capture of {name}", min_snr_db=None,
                                      status_flags=tuple(res.status_flags), lost_samples=res.lost_samples)
                flags_seen += list(res.status_flags)
                if rep.ok:
                    break
                if rep.lost_data and not rep.n_clipped and attempt < retries:
                    attempt += 1
                    if progress:
                        progress(f"{name}: capture lost data, retrying ({attempt}/{retries})")
                    continue
                raise MeasurementError(rep.problems[0])
            acc_mic += res.recording[0]
            if loopback_input is not None:
                acc_ref += res.recording[1]
        mic = acc_mic / repeats
        rep = inspect_capture(mic, fs=fs, sweep_start=start, what=f"the capture of {name}",
                              min_snr_db=min_snr_db)
        if not rep.ok:
            raise MeasurementError(rep.problems[0])
        reports[name] = _report_dict(rep)
        mics.append(mic)
        refs.append(acc_ref / repeats)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    m_meta: dict[str, Any] = {
        "device": device,
        "stamp": stamp,
        "repeats": int(repeats),
        "level_dbfs": level,
        "requested_level_dbfs": sweep.level_dbfs,
        "max_level_dbfs": max_level_dbfs,
        "speakers": {n: int(o) + 1 for n, o in speakers},        # 1-based at the user edge
        "mic_input": int(mic_input) + 1,
        "loopback_input": None if loopback_input is None else int(loopback_input) + 1,
        "loopback_output": None if loopback_output is None else int(loopback_output) + 1,
        "capture": reports,
        "status_flags": sorted(set(flags_seen)),
        **info,
    }
    m_meta.update(dict(meta or {}))
    measurement = Measurement(
        recording=np.vstack(mics),
        fs=fs,
        sweep=spec,
        channel_names=tuple(names),
        reference=np.vstack(refs) if loopback_input is not None else None,
        meta=m_meta,
    )
    ir = deconvolve(measurement, n_harmonics=n_harmonics, ir_length_s=ir_length_s)
    return measurement, ir


def _report_dict(rep: CaptureReport) -> dict[str, Any]:
    return {"peak_dbfs": rep.peak_dbfs, "snr_db": rep.snr_db}
