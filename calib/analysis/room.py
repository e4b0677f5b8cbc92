"""``analyze_room``: everything about a room from one seat's impulse responses.

Composition of the topic modules: decay (octave and third-octave, per channel and the mean
over channels), modes (detected, predicted from the dimensions, matched), early reflections
(with surfaces when the geometry is known), waterfall and spectrogram data, distortion from
the harmonic IRs, background noise from a silent recording, channel matching, and the
compliance checks against the limit table.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np

from calib.analysis import compliance as cmp
from calib.analysis.decay import MIN_IR_AFTER_ONSET_S, decay_table
from calib.analysis.distortion import harmonic_distortion
from calib.analysis.limits import load_limits
from calib.analysis.matching import match_channels
from calib.analysis.modes import bolt_check, bonello_check, detect_modes, predict_modes
from calib.analysis.noise import noise_spectrum
from calib.analysis.physics import check_dims_m, room_volume_m3, schroeder_frequency_hz, speed_of_sound_m_s
from calib.analysis.reflections import early_reflections, image_sources, max_reflection_level_db
from calib.analysis.response import ir_to_response, onset_index
from calib.analysis.smoothing import log_frequency_grid, resample_response, smooth_response
from calib.analysis.timefreq import spectrogram, waterfall
from calib.analysis.types import BandDecay, DecayTable, RoomAnalysis, TimeFrequency
from calib.errors import ConfigError, SignalError
from calib.types import FrequencyResponse, ImpulseResponse

__all__ = ["analyze_room", "mean_decay_table"]

_MEAN_COLUMNS = ("edt_s", "t20_s", "t30_s", "c50_db", "c80_db", "d50", "ts_s")


def mean_decay_table(tables: Sequence[DecayTable]) -> DecayTable:
    """Arithmetic mean over channels of the valid figures per band (ISO 3382-2 §5.4 averages
    over source positions); a band figure is NaN when no channel had it.  The range columns
    hold the smallest range among the channels."""
    if not tables:
        raise SignalError("no decay tables to average")
    ref = tables[0]
    bands = []
    for i, b0 in enumerate(ref.bands):
        vals: dict[str, float] = {}
        reasons: dict[str, str] = {}
        for col in _MEAN_COLUMNS:
            v = np.array([getattr(t.bands[i], col) for t in tables], dtype=float)
            ok = np.isfinite(v)
            vals[col] = float(v[ok].mean()) if ok.any() else math.nan
            if not ok.any():
                key = col.rsplit("_", 1)[0]
                reasons[key] = next((t.bands[i].reasons.get(key, "") for t in tables if t.bands[i].reasons.get(key)),
                                    "no channel had this figure")
            elif not ok.all():
                key = col.rsplit("_", 1)[0]
                reasons[key] = f"mean of {int(ok.sum())} of {ok.size} channels"
        rng = np.array([t.bands[i].decay_range_db for t in tables], dtype=float)
        pnr = np.array([t.bands[i].peak_to_noise_db for t in tables], dtype=float)
        cp = np.array([t.bands[i].crosspoint_s for t in tables], dtype=float)
        t30, t20 = vals["t30_s"], vals["t20_s"]
        curv = 100.0 * (t30 / t20 - 1.0) if math.isfinite(t30) and math.isfinite(t20) else math.nan
        bands.append(BandDecay(centre_hz=b0.centre_hz, label=b0.label, **vals,
                               decay_range_db=float(np.nanmin(rng)) if np.isfinite(rng).any() else math.nan,
                               peak_to_noise_db=float(np.nanmin(pnr)) if np.isfinite(pnr).any() else math.nan,
                               crosspoint_s=float(np.nanmin(cp)) if np.isfinite(cp).any() else math.nan,
                               curvature_pct=curv, reasons=reasons))
    return DecayTable(fraction=ref.fraction, bands=tuple(bands), onset_s=ref.onset_s)


def _positions(source_m: Any, channels: Sequence[str]) -> dict[str, Sequence[float]]:
    if source_m is None:
        return {}
    if isinstance(source_m, Mapping):
        unknown = [k for k in source_m if k not in channels]
        if unknown:
            raise ConfigError(f"source positions given for unknown channel(s) {', '.join(unknown)}; "
                              f"channels are {', '.join(channels)}")
        return dict(source_m)
    return {ch: source_m for ch in channels}


def _check_lengths(ir: ImpulseResponse) -> list[int]:
    onsets = []
    for name, row in zip(ir.channel_names, ir.samples):
        if not np.any(row != 0):
            raise SignalError(f"channel {name} of the impulse response is silent (all zeros); re-measure it")
        on = onset_index(row)
        after = (row.size - on) / ir.fs
        if after < MIN_IR_AFTER_ONSET_S:
            raise SignalError(
                f"channel {name}: the impulse response is too short: {after * 1000:.0f} ms after the direct sound, "
                f"need at least {MIN_IR_AFTER_ONSET_S * 1000:.0f} ms; measure with a longer tail")
        onsets.append(on)
    return onsets


def analyze_room(ir: ImpulseResponse, *, dims_m: Sequence[float] | None = None,
                 source_m: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
                 mic_m: Sequence[float] | None = None, temperature_c: float = 20.0,
                 noise_recording: np.ndarray | None = None, spl_offset_db: float | None = None,
                 limits_path: str | None = None, mode_range_hz: tuple[float, float] = (20.0, 250.0),
                 reflection_window_ms: float = 50.0, reflection_min_level_db: float = -20.0,
                 reflection_early_ms: float = 20.0, reflection_late_min_level_db: float = -10.0,
                 time_frequency: bool = True) -> RoomAnalysis:
    """Analyse one seat's impulse responses (one row per speaker).

    Parameters
    ----------
    ir : ImpulseResponse
        Measured (or simulated) IRs, ≥ 100 ms after the direct sound; a second or more for
        low-frequency decay and modes.
    dims_m : (L, W, H), optional
        Room box (m); enables mode prediction, Schroeder frequency, Tm, surfaces, geometry.
    source_m : (x, y, z) or {channel: (x, y, z)}, optional
        Speaker position(s) (m), coordinates as in :mod:`calib.analysis.reflections`.
    mic_m : (x, y, z), optional
        Mic position (m).
    temperature_c : float
        Room temperature (°C) for the speed of sound.
    noise_recording : ndarray, shape (n,), optional
        Silent recording at ``ir.fs`` (the sweep pre-roll) for the background-noise spectrum.
    spl_offset_db : float, optional
        dB SPL for an RMS of 1.0 (mic calibration); without it noise is in dBFS and unrated.
    limits_path : str, optional
        Limit table (default ``calib/data/compliance_limits.toml``).
    mode_range_hz : (lo, hi)
        Band searched for modes (Hz).
    reflection_window_ms, reflection_min_level_db, reflection_early_ms, reflection_late_min_level_db
        Which reflections are listed: those within ``reflection_early_ms`` (20 ms) of the direct
        sound down to ``reflection_min_level_db`` (-20 dB re direct: the reflection-free-zone
        criterion of control-room design), plus any later one up to ``reflection_window_ms``
        that reaches ``reflection_late_min_level_db`` (-10 dB, a discrete echo).  The diffuse
        tail's peaks are not reflections worth naming.  The compliance check (Tech 3276:
        first 15 ms, 10 dB) reads the ETC separately and is not affected by this selection.
    time_frequency : bool
        Also compute waterfall and spectrogram data.

    Returns
    -------
    RoomAnalysis

    Raises
    ------
    SignalError
        Silent or too-short IRs, unusable noise recording.
    ConfigError
        Bad dimensions/positions/temperature, positions without dimensions, bad limit table.
    """
    limits = load_limits(limits_path)
    fs = ir.fs
    names = ir.channel_names
    _check_lengths(ir)
    c = speed_of_sound_m_s(temperature_c)
    dims = check_dims_m(dims_m) if dims_m is not None else None
    if (source_m is not None or mic_m is not None) and dims is None:
        raise ConfigError("--source/--mic need the room dimensions too (--dims LxWxH)")
    if (source_m is None) != (mic_m is None):
        raise ConfigError("give both the source (--source) and the mic (--mic) position, or neither")
    volume = room_volume_m3(dims) if dims else math.nan
    sources = _positions(source_m, names)
    warnings: list[str] = []

    dr = limits["decay_range"]
    need = {"edt": dr["edt_db"], "t20": dr["t20_db"], "t30": dr["t30_db"]}
    oct_tables, third_tables = {}, {}
    for name, row in zip(names, ir.samples):
        oct_tables[name] = decay_table(row, fs=fs, fraction=1, required_range_db=need)
        third_tables[name] = decay_table(row, fs=fs, fraction=3, lo_hz=50.0, hi_hz=10000.0, required_range_db=need)
    decay = mean_decay_table(list(oct_tables.values()))
    decay3 = mean_decay_table(list(third_tables.values()))

    # Schroeder frequency from the mid-frequency T (mean of the 500 Hz and 1 kHz octaves)
    fc = decay.centres_hz
    t_mid = np.where(np.isfinite(decay.column("t30_s")), decay.column("t30_s"), decay.column("t20_s"))
    mid = (fc > 400) & (fc < 1200) & np.isfinite(t_mid)
    t60_mid = float(t_mid[mid].mean()) if mid.any() else math.nan
    f_s = schroeder_frequency_hz(t60_mid, volume) if dims else math.nan

    lo_m, hi_m = mode_range_hz
    predicted = predict_modes(dims, c_m_s=c, f_max_hz=hi_m * 1.1) if dims else ()
    modes = []
    reflections = []
    er_levels: dict[str, tuple[float, float]] = {}
    er = limits["early_reflections"]
    tf: dict[str, TimeFrequency] = {}
    for name, row in zip(names, ir.samples):
        if ir.n_samples / fs < 0.5:
            warnings.append(f"{name}: IR shorter than 0.5 s; low-frequency modes are poorly resolved")
        modes += detect_modes(row, fs=fs, channel=name, lo_hz=lo_m, hi_hz=min(hi_m, 0.45 * fs), predicted=predicted)
        images = image_sources(dims, sources[name], mic_m) if (dims and name in sources) else ()
        reflections += early_reflections(row, fs=fs, c_m_s=c, channel=name, window_ms=reflection_window_ms,
                                         min_level_db=reflection_min_level_db, images=images,
                                         late_after_ms=reflection_early_ms,
                                         late_min_level_db=reflection_late_min_level_db)
        er_levels[name] = max_reflection_level_db(row, fs=fs, window_ms=er["window_ms"],
                                                  band_hz=(er["band_lo_hz"], er["band_hi_hz"]))
        if time_frequency:
            tf[f"{name}/waterfall"] = waterfall(row, fs=fs, channel=name)
            tf[f"{name}/spectrogram"] = spectrogram(row, fs=fs, channel=name)

    if math.isfinite(f_s):
        # above the Schroeder frequency modes overlap: a peak there is a statistical feature
        # of the diffuse field, not an isolated mode (its T60 is the band's, not a mode's)
        note = f"above the Schroeder frequency ({f_s:.0f} Hz): overlapping modes, a statistical peak"
        modes = [dataclasses.replace(m, reason="; ".join(r for r in (m.reason, note) if r)) if m.freq_hz > f_s else m
                 for m in modes]

    distortion = {}
    dist_reason = ""
    if ir.harmonics:
        for name in names:
            distortion[name] = harmonic_distortion(ir, name)
    else:
        dist_reason = "no harmonic IRs (measure with a sweep; a plain IR file carries none)"

    noise = None
    noise_reason = ""
    if noise_recording is not None:
        noise = noise_spectrum(np.asarray(noise_recording, dtype=np.float64).reshape(-1), fs=fs,
                               spl_offset_db=spl_offset_db)
    else:
        noise_reason = "no silent recording (the sweep pre-roll of a measurement is needed)"

    pairs = match_channels(ir) if ir.n_channels >= 2 else ()

    fr_full = ir_to_response(ir, remove_delay=False)
    checks = []
    checks += cmp.check_reverberation(decay3, volume if dims else None, limits)
    checks.append(cmp.check_early_reflections(er_levels, limits))
    checks.append(cmp.check_room_response(fr_full, limits))
    checks.append(cmp.check_background_noise(noise, noise_reason, limits))
    checks += cmp.check_matching(pairs, limits)
    checks += cmp.check_geometry(dims, limits)

    grid = log_frequency_grid(10.0, min(20000.0, 0.45 * fs), points_per_octave=48)
    fr_plot = resample_response(smooth_response(FrequencyResponse(
        freqs_hz=fr_full.freqs_hz[1:], magnitude_db=fr_full.magnitude_db[:, 1:], channel_names=names), "1/48"), grid)

    ratios: dict[str, Any] = {}
    if dims:
        ratios = {"bolt": bolt_check(dims), "bonello": bonello_check(dims, c_m_s=c)}

    return RoomAnalysis(
        fs=fs, channel_names=names, schroeder_hz=f_s, volume_m3=volume, speed_of_sound_m_s=c,
        modes=tuple(modes), predicted_modes=tuple(p for p in predicted if p.freq_hz <= hi_m),
        reflections=tuple(reflections), decay=decay, decay_third_octave=decay3,
        decay_per_channel=oct_tables, noise=noise, noise_reason=noise_reason,
        distortion=distortion, distortion_reason=dist_reason, matching=tuple(pairs),
        compliance=tuple(checks), room_ratios=ratios, response=fr_plot, time_frequency=tf,
        warnings=tuple(warnings),
    )
