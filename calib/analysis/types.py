"""Result types of the room analysis (frozen dataclasses with ``to_dict()`` for JSON).

NaN means "no figure" everywhere; :func:`calib.audio_io.to_json` writes it as ``null``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from calib.types import FrequencyResponse

__all__ = [
    "BandDecay",
    "DecayTable",
    "PredictedMode",
    "Mode",
    "Reflection",
    "NoiseAnalysis",
    "DistortionAnalysis",
    "ChannelPair",
    "ComplianceCheck",
    "TimeFrequency",
    "RoomAnalysis",
]


def _f(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class BandDecay:
    """Decay figures of one band (ISO 3382-1).

    Times in s, ratios in dB; NaN when the band lacks the range (see ``reasons``).
    ``decay_range_db`` is the dynamic range the figures had (the smaller of the Lundeby
    intercept-to-noise ratio and the peak-to-noise ratio of the band), ``peak_to_noise_db``
    the band's peak over its noise power.
    """

    centre_hz: float
    label: str
    edt_s: float
    t20_s: float
    t30_s: float
    c50_db: float
    c80_db: float
    d50: float
    ts_s: float
    decay_range_db: float
    peak_to_noise_db: float
    crosspoint_s: float
    curvature_pct: float
    reasons: Mapping[str, str] = field(default_factory=dict)


_DECAY_COLUMNS = ("edt_s", "t20_s", "t30_s", "c50_db", "c80_db", "d50", "ts_s", "decay_range_db",
                  "peak_to_noise_db", "crosspoint_s", "curvature_pct")


@dataclass(frozen=True)
class DecayTable:
    """Decay figures for a set of bands of one channel (or the mean over channels)."""

    fraction: int
    bands: tuple[BandDecay, ...]
    onset_s: float = 0.0

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(b, name) for b in self.bands], dtype=np.float64)

    @property
    def centres_hz(self) -> np.ndarray:
        return self.column("centre_hz")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "fraction": self.fraction,
            "bands_hz": [_f(b.centre_hz) for b in self.bands],
            "labels": [b.label for b in self.bands],
        }
        for c in _DECAY_COLUMNS:
            d[c] = [_f(getattr(b, c)) for b in self.bands]
        d["reasons"] = [dict(b.reasons) for b in self.bands]
        return d


@dataclass(frozen=True)
class PredictedMode:
    """A rectangular-room mode (Rayleigh): frequency and indices; kind axial/tangential/oblique."""

    freq_hz: float
    indices: tuple[int, int, int]
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"freq_hz": _f(self.freq_hz), "indices": list(self.indices), "kind": self.kind}


@dataclass(frozen=True)
class Mode:
    """A mode found in a measured low-frequency response.

    ``level_db``: peak above the local (1-octave, power-mean) average; ``q = f0/B_3dB``;
    ``t60_s``: decay time of a narrow band around f0 (NaN + reason when not measurable);
    ``t60_from_q_s = 2.2·Q/f0`` (STANDARDS.md §4.3); ``predicted``: the matched Rayleigh mode.
    """

    freq_hz: float
    level_db: float
    q: float
    t60_s: float
    t60_from_q_s: float
    channel: str
    predicted: PredictedMode | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "freq_hz": _f(self.freq_hz),
            "level_db": _f(self.level_db),
            "q": _f(self.q),
            "t60_s": _f(self.t60_s),
            "t60_from_q_s": _f(self.t60_from_q_s),
            "channel": self.channel,
            "predicted": self.predicted.to_dict() if self.predicted else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Reflection:
    """An early reflection: delay after the direct sound (ms), level re direct (dB), extra
    path length (m), most likely surface (image-source reasoning) or None."""

    delay_ms: float
    level_db: float
    path_m: float
    channel: str
    surface: str | None = None
    surface_error_ms: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"delay_ms": _f(self.delay_ms), "level_db": _f(self.level_db), "path_m": _f(self.path_m),
                "surface": self.surface, "surface_error_ms": _f(self.surface_error_ms),
                "channel": self.channel}


@dataclass(frozen=True)
class NoiseAnalysis:
    """Background noise per octave band and its NR rating.

    ``level_db`` is dB SPL when ``calibrated`` (an SPL offset was known), else dBFS; the NR
    rating needs SPL, so it is NaN with a reason otherwise.
    """

    bands_hz: tuple[float, ...]
    level_db: tuple[float, ...]
    calibrated: bool
    nr: float
    limiting_band_hz: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"bands_hz": [_f(b) for b in self.bands_hz], "level_db": [_f(v) for v in self.level_db],
                "unit": "dB SPL" if self.calibrated else "dBFS", "nr": _f(self.nr),
                "limiting_band_hz": _f(self.limiting_band_hz), "reason": self.reason}


@dataclass(frozen=True)
class DistortionAnalysis:
    """Harmonic distortion of one channel versus the fundamental's frequency.

    ``harmonics_db[k]``: level of harmonic k relative to the fundamental (dB) at each
    frequency of ``freqs_hz`` (the *excitation* frequency); ``thd_pct``: ``100·√(Σ_k |H_k|²)/|H_1|``.
    """

    channel: str
    freqs_hz: np.ndarray
    harmonics_db: Mapping[int, np.ndarray]
    thd_pct: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "freqs_hz": self.freqs_hz,
            "harmonics_db": {str(k): v for k, v in sorted(self.harmonics_db.items())},
            "thd_pct": self.thd_pct,
        }


@dataclass(frozen=True)
class ChannelPair:
    """Matching of two channels: level difference a − b (dB, 500 Hz–2 kHz), response difference
    per third-octave band (dB), arrival-time difference a − b (ms), same polarity or not.

    ``band_limited``: a or b has no output in the 500 Hz–2 kHz level band (a subwoofer,
    :mod:`calib.analysis.passband`); then level, arrival and polarity are not judged (NaN,
    ``same_polarity`` True, ``correlation`` NaN) and the response difference is NaN outside the
    pass band the two share (bass management judges a sub against a main at the crossover)."""

    a: str
    b: str
    level_diff_db: float
    bands_hz: tuple[float, ...]
    response_diff_db: tuple[float, ...]
    arrival_diff_ms: float
    same_polarity: bool
    correlation: float
    band_limited: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "level_diff_db": _f(self.level_diff_db),
                "bands_hz": [_f(v) for v in self.bands_hz],
                "response_diff_db": [_f(v) for v in self.response_diff_db],
                "arrival_diff_ms": _f(self.arrival_diff_ms), "same_polarity": bool(self.same_polarity),
                "correlation": _f(self.correlation), "band_limited": bool(self.band_limited)}


@dataclass(frozen=True)
class ComplianceCheck:
    """One check against the limit table: value, limit, verdict (None when not assessable)."""

    check: str
    value: Any
    limit: Any
    passed: bool | None
    unit: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "value": self.value, "limit": self.limit, "passed": self.passed,
                "unit": self.unit, "detail": self.detail}


@dataclass(frozen=True)
class TimeFrequency:
    """Waterfall (CSD) or spectrogram data: ``level_db[i_time, i_freq]`` re the maximum."""

    kind: str
    channel: str
    times_s: np.ndarray
    freqs_hz: np.ndarray
    level_db: np.ndarray


@dataclass(frozen=True)
class RoomAnalysis:
    """Everything :func:`calib.analysis.room.analyze_room` found.

    ``decay`` (octave) and ``decay_third_octave`` are the arithmetic means over channels of the
    valid per-channel figures (ISO 3382-2 §5.4 spatial averaging over source positions); the
    per-channel tables are in ``decay_per_channel``.
    """

    fs: int
    channel_names: tuple[str, ...]
    schroeder_hz: float
    volume_m3: float
    speed_of_sound_m_s: float
    modes: tuple[Mode, ...]
    predicted_modes: tuple[PredictedMode, ...]
    reflections: tuple[Reflection, ...]
    decay: DecayTable
    decay_third_octave: DecayTable
    decay_per_channel: Mapping[str, DecayTable]
    noise: NoiseAnalysis | None
    noise_reason: str
    distortion: Mapping[str, DistortionAnalysis]
    distortion_reason: str
    matching: tuple[ChannelPair, ...]
    compliance: tuple[ComplianceCheck, ...]
    room_ratios: Mapping[str, Any]
    response: FrequencyResponse | None = None
    time_frequency: Mapping[str, TimeFrequency] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``roomtruth analyze --json`` (issue 3) plus extra detail."""
        noise: dict[str, Any]
        if self.noise is not None:
            noise = self.noise.to_dict()
        else:
            noise = {"bands_hz": [], "level_db": [], "unit": None, "nr": None, "limiting_band_hz": None,
                     "reason": self.noise_reason}
        dist: dict[str, Any] = {"channels": {k: v.to_dict() for k, v in self.distortion.items()},
                                "reason": self.distortion_reason}
        return {
            "fs": int(self.fs),
            "channels": list(self.channel_names),
            "schroeder_hz": _f(self.schroeder_hz),
            "volume_m3": _f(self.volume_m3),
            "speed_of_sound_m_s": _f(self.speed_of_sound_m_s),
            "modes": [m.to_dict() for m in self.modes],
            "predicted_modes": [p.to_dict() for p in self.predicted_modes],
            "reflections": [r.to_dict() for r in self.reflections],
            "decay": self.decay.to_dict(),
            "decay_third_octave": self.decay_third_octave.to_dict(),
            "decay_per_channel": {k: v.to_dict() for k, v in self.decay_per_channel.items()},
            "noise": noise,
            "distortion": dist,
            "matching": [p.to_dict() for p in self.matching],
            "compliance": [c.to_dict() for c in self.compliance],
            "room_ratios": dict(self.room_ratios),
            "warnings": list(self.warnings),
        }
