"""Result types of the mix checks: :class:`MixAnalysis` and :class:`RoomFingerprint`.

Frozen dataclasses; arrays inside are read-only float64.  Both serialise to plain dicts
(``to_dict``) whose keys follow the CLI contract of issue 8, so ``reports`` can write the
letter to the mix engineer from a :class:`RoomFingerprint` without knowing how it was made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from calib.errors import ProfileError

__all__ = ["PlatformPreview", "RenderEvent", "Ltas", "MixAnalysis", "RoomFingerprint", "FINGERPRINT_SCHEMA"]

FINGERPRINT_SCHEMA = 1


def _ro(x: Any) -> np.ndarray:
    a = np.array(x, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class PlatformPreview:
    """What one playback platform does to the track.

    Attributes
    ----------
    name : str
    target_lufs : float or None
        None when the platform does not normalise by BS.1770 loudness (Pandora).
    gain_db : float
        Gain the platform applies (negative: turned down).
    true_peak_after_dbtp : float
        True peak after that gain (before any platform limiter).
    action : str
        ``"down"``, ``"up"``, ``"up (capped)"``, ``"none"``, ``"limited"`` or ``"unknown"``.
    note : str
        One sentence for the engineer.
    """

    name: str
    target_lufs: float | None
    gain_db: float
    true_peak_after_dbtp: float
    action: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target_lufs": self.target_lufs,
            "gain_db": _num(self.gain_db),
            "true_peak_after_dbtp": _num(self.true_peak_after_dbtp),
            "action": self.action,
            "note": self.note,
        }


@dataclass(frozen=True)
class RenderEvent:
    """One render problem at a time in the file.

    Attributes
    ----------
    kind : str
        ``"click"``, ``"pop"``, ``"silence"``, ``"held"``, ``"over"``, ``"clipping"``; artifacts
        (:mod:`mixes.artifacts`): ``"discontinuity"``, ``"digital_distortion"``,
        ``"truncation"``, ``"polarity_inverted"``, ``"dual_mono"``.
    time_s : float
        Start (or peak) time in the file (s).
    level_db : float
        Click/pop: peak of the click itself, the music interpolated out (dBFS); over:
        true peak (dBTP); silence/held: level of the programme around it (dBFS); artifacts:
        see :mod:`mixes.artifacts` (NaN when the kind has no level).
    channel : int
        0-based channel (-1: all channels).
    duration_s : float
        Length of a dropout / clipped run / artifact (0 for clicks).
    audibility_db : float or None
        Click/pop/discontinuity: how far the event stands above the programme's local masking
        threshold in the critical band where it stands out most (dB; > 0: audible on accurate
        monitors in a quiet room).  None for other kinds.
    detail : str
        Artifacts: one sentence for the engineer ("" otherwise).
    """

    kind: str
    time_s: float
    level_db: float
    channel: int = -1
    duration_s: float = 0.0
    audibility_db: float | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {
            "kind": self.kind,
            "time_s": round(float(self.time_s), 6),
            "level_db": _num(self.level_db),
            "channel": int(self.channel),
            "duration_s": round(float(self.duration_s), 6),
        }
        if self.audibility_db is not None:
            d["audibility_db"] = round(float(self.audibility_db), 2)
        elif self.kind in ("click", "pop"):
            d["audibility_db"] = None
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass(frozen=True)
class Ltas:
    """Long-term average spectrum, loudness-normalised.

    Attributes
    ----------
    freqs_hz : ndarray (n_bands,)
        Band centre frequencies.
    level_db : ndarray (n_bands,)
        Band level (dB) of the programme after normalising it to ``normalised_to_lufs``.
    bands_per_octave : int
    normalised_to_lufs : float
    floor_db : ndarray (n_bands,) or None
        The band's broadband floor under its tonal peaks (dB, same normalisation; see
        :mod:`mixes.envelope`): what a studio fingerprint is learnt from.  None when the
        spectrum was too coarse to read it.
    floor_gap_db : ndarray (n_bands,) or None
        Mean band power over the floor (dB): how tonal the band was.
    floor_mod_db : ndarray (n_bands,) or None
        Interquartile range over time of the band's frame floor (dB; a descriptor of the
        arrangement the room does not move, :mod:`mixes.fingerprint_features`).  Not stored.
    """

    freqs_hz: np.ndarray
    level_db: np.ndarray
    bands_per_octave: int
    normalised_to_lufs: float
    floor_db: np.ndarray | None = None
    floor_gap_db: np.ndarray | None = None
    floor_mod_db: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "freqs_hz", _ro(self.freqs_hz))
        object.__setattr__(self, "level_db", _ro(self.level_db))
        for name in ("floor_db", "floor_gap_db", "floor_mod_db"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _ro(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "freqs_hz": [round(float(f), 3) for f in self.freqs_hz],
            "level_db": [_num(round(float(v), 3)) if math.isfinite(v) else None for v in self.level_db],
            "bands_per_octave": self.bands_per_octave,
            "normalised_to_lufs": self.normalised_to_lufs,
        }
        if self.floor_db is not None:
            d["floor_db"] = [_num(round(float(v), 3)) if math.isfinite(v) else None for v in self.floor_db]
        return d


@dataclass(frozen=True)
class MixAnalysis:
    """Everything ``roomtruth mix analyze`` reports for one file.

    ``stereo`` (:class:`mixes.stereo.StereoImage`, None for one channel), ``balance``
    (:class:`mixes.balance.Balance`) and ``dynamics`` (:class:`mixes.dynamics.Dynamics`) are
    None when not measured (``extras=False``) or, for balance and dynamics, for a silent file.
    ``artifacts`` are :class:`RenderEvent` of the artifact kinds.
    """

    file: str
    fs: int
    n_channels: int
    duration_s: float
    integrated_lufs: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    true_peak_per_channel_dbtp: tuple[float, ...]
    sample_peak_dbfs: float
    oversample: int
    dc_offset_dbfs: tuple[float, ...]
    platforms: tuple[PlatformPreview, ...] = ()
    clicks: tuple[RenderEvent, ...] = ()
    dropouts: tuple[RenderEvent, ...] = ()
    overs: tuple[RenderEvent, ...] = ()
    ltas: Ltas | None = None
    warnings: tuple[str, ...] = ()
    artifacts: tuple[RenderEvent, ...] = ()
    stereo: Any = None
    balance: Any = None
    dynamics: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the CLI contract's shape (NaN/-inf become None).

        ``balance`` is given without the reference comparison (its ``_vs_reference_db`` keys
        null); ``roomtruth mix analyze`` fills them in when references are given.
        """
        return {
            "file": self.file,
            "fs": self.fs,
            "n_channels": self.n_channels,
            "duration_s": round(self.duration_s, 6),
            "integrated_lufs": _num(self.integrated_lufs),
            "momentary_max_lufs": _num(self.momentary_max_lufs),
            "short_term_max_lufs": _num(self.short_term_max_lufs),
            "lra_lu": _num(self.lra_lu),
            "true_peak_dbtp": _num(self.true_peak_dbtp),
            "true_peak_per_channel_dbtp": [_num(v) for v in self.true_peak_per_channel_dbtp],
            "sample_peak_dbfs": _num(self.sample_peak_dbfs),
            "true_peak_oversampling": self.oversample,
            "dc_offset_dbfs": [_num(v) for v in self.dc_offset_dbfs],
            "platforms": [p.to_dict() for p in self.platforms],
            "clicks": [c.to_dict() for c in self.clicks],
            "dropouts": [d.to_dict() for d in self.dropouts],
            "overs": [o.to_dict() for o in self.overs],
            "artifacts": [{**a.to_dict(), "detail": a.detail} for a in self.artifacts],
            "ltas": self.ltas.to_dict() if self.ltas is not None else None,
            "stereo": self.stereo.to_dict() if self.stereo is not None else None,
            "balance": self.balance.to_dict() if self.balance is not None else None,
            "dynamics": self.dynamics.to_dict() if self.dynamics is not None else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class RoomFingerprint:
    """The consistent spectral deviation of a studio's mixes (its room's fingerprint).

    Attributes
    ----------
    studio : str
        Studio name (folder name under ``studios/``).
    freqs_hz : ndarray (n_bands,)
        Band centres (third-octave by default).
    deviation_db : ndarray (n_bands,)
        How the studio's mixes deviate from the reference (dB; positive = the mixes have too
        much there).  A room with a 60 Hz peak gives mixes that are thin at 60 Hz: negative.
    confidence : ndarray (n_bands,)
        0..1 per band: how consistent the deviation is from mix to mix.
    spread_db : ndarray (n_bands,)
        Standard deviation of the per-mix deviations (dB).
    n_mixes : int
        Number of mixes it was learned from (0 when made from a room measurement).
    source : str
        ``"mixes"`` or ``"measurement"``.
    reference : str
        What the mixes were compared with (``"reference tracks (8)"``, ``"built-in target"``,
        or the measurement file).
    created : str
        ISO-8601 UTC time.
    files : tuple of str
        The mixes (or the measurement) it came from.
    per_mix_deviation_db : ndarray (n_mixes, n_bands)
        Each mix's own deviation (level-aligned), so a reader can count on how many tracks a
        deviation appeared; empty ``(0, n_bands)`` for a measured fingerprint.
    interval_db : ndarray (n_bands, 2) or None
        90 % interval ``[low, high]`` (dB) of the deviation per band, from the mix-to-mix and
        reference-to-reference spread (:mod:`mixes.fingerprint`).  None for a measured
        fingerprint and for files written before intervals existed.
    """

    studio: str
    freqs_hz: np.ndarray
    deviation_db: np.ndarray
    confidence: np.ndarray
    spread_db: np.ndarray
    n_mixes: int
    source: str
    reference: str
    created: str = ""
    files: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    per_mix_deviation_db: np.ndarray | None = None
    interval_db: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("freqs_hz", "deviation_db", "confidence", "spread_db"):
            object.__setattr__(self, name, _ro(getattr(self, name)))
        n = self.freqs_hz.size
        pm = np.zeros((0, n)) if self.per_mix_deviation_db is None else np.array(
            self.per_mix_deviation_db, dtype=np.float64, copy=True).reshape(-1, n)
        pm.setflags(write=False)
        object.__setattr__(self, "per_mix_deviation_db", pm)
        if self.interval_db is not None:
            iv = np.array(self.interval_db, dtype=np.float64, copy=True)
            if iv.shape != (n, 2) or not np.all(np.isfinite(iv)) or np.any(iv[:, 0] > iv[:, 1]):
                raise ProfileError(
                    f"fingerprint of {self.studio!r}: interval_db must hold [low, high] with low <= high "
                    f"for each of the {n} bands; the file is inconsistent, rebuild it")
            iv.setflags(write=False)
            object.__setattr__(self, "interval_db", iv)
        for name in ("deviation_db", "confidence", "spread_db"):
            if getattr(self, name).shape != (n,):
                raise ProfileError(
                    f"fingerprint of {self.studio!r}: {name} has {getattr(self, name).size} values "
                    f"for {n} bands; the file is inconsistent, rebuild it"
                )
        if np.any((self.confidence < 0) | (self.confidence > 1)):
            raise ProfileError(f"fingerprint of {self.studio!r}: confidence must lie in 0..1")
        object.__setattr__(self, "files", tuple(self.files))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": FINGERPRINT_SCHEMA,
            "studio": self.studio,
            "source": self.source,
            "reference": self.reference,
            "n_mixes": self.n_mixes,
            "created": self.created,
            "files": list(self.files),
            "freqs_hz": [round(float(f), 3) for f in self.freqs_hz],
            "deviation_db": [round(float(v), 3) for v in self.deviation_db],
            "confidence": [round(float(v), 3) for v in self.confidence],
            "spread_db": [round(float(v), 3) for v in self.spread_db],
            "per_mix_deviation_db": [[round(float(v), 3) for v in row] for row in self.per_mix_deviation_db],
            "interval_db": None if self.interval_db is None else [
                [round(float(lo), 3), round(float(hi), 3)] for lo, hi in self.interval_db],
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, origin: str = "fingerprint") -> "RoomFingerprint":
        """Rebuild from :meth:`to_dict` output; :class:`ProfileError` naming ``origin`` if malformed."""
        if not isinstance(d, Mapping):
            raise ProfileError(f"{origin} does not hold a JSON object; it is not a roomtruth fingerprint")
        need = ("studio", "freqs_hz", "deviation_db", "confidence")
        missing = [k for k in need if k not in d]
        if missing:
            raise ProfileError(f"{origin} lacks {', '.join(missing)}; it is not a roomtruth fingerprint")
        try:
            ver = int(d.get("schema_version", FINGERPRINT_SCHEMA))
        except (TypeError, ValueError):
            raise ProfileError(f"{origin} has schema version {d.get('schema_version')!r}, not a number; "
                               "rebuild it with 'roomtruth mix fingerprint'") from None
        if ver > FINGERPRINT_SCHEMA:
            raise ProfileError(
                f"{origin} has schema version {d['schema_version']}, newer than this roomtruth "
                f"({FINGERPRINT_SCHEMA}); upgrade roomtruth"
            )
        try:
            return cls(
                studio=str(d["studio"]),
                freqs_hz=d["freqs_hz"],
                deviation_db=d["deviation_db"],
                confidence=d["confidence"],
                spread_db=d.get("spread_db", [0.0] * len(d["freqs_hz"])),
                n_mixes=int(d.get("n_mixes", 0)),
                source=str(d.get("source", "mixes")),
                reference=str(d.get("reference", "")),
                created=str(d.get("created", "")),
                files=tuple(d.get("files", ())),
                meta=dict(d.get("meta", {})),
                per_mix_deviation_db=d.get("per_mix_deviation_db") or None,
                interval_db=d.get("interval_db") or None,
            )
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"{origin} is malformed ({exc}); rebuild it with 'roomtruth mix fingerprint'") from None
