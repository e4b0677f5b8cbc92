"""The calibration profile: what the correction designer writes, the monitor engine runs and
the verification compares against.

On disk (``profiles/<name>/``)::

    profile.json                 this dataclass, FIRs and reference IRs by file name
    fir_<speaker>_<fs>.wav       per speaker, per sample rate, the complete correction FIR
                                 (PEQ included) when an FIR was designed
    fir_<speaker>.wav            the FIR at the design rate (a copy, for the user)
    reference.ir.wav             the baseline impulse responses (one channel per speaker)

Signal chain per speaker, as the monitor engine runs it::

    x -> gain(preamp_db + trim_db) * polarity -> delay(delay_s, sub-sample)
      -> FIR (if present, it already contains the PEQ) else biquad cascade of ``peq``

The content hash covers everything that changes the sound or a verdict (gains, delays,
polarity, PEQ, routing, FIR taps, target, tolerances, the reference IRs' samples and their
timing facts) and nothing that does not (the profile's name, file names, provenance such as
the creation time), so the monitor engine can prove that the certified filters are the ones
in the path and ``verify`` that the baseline and limits it judges by are the designed ones.
A profile without a hash, or whose hash does not match, is refused when loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from calib.audio_io import atomic_directory, read_audio, to_json, write_wav_atomic
from calib.errors import ProfileError, SignalError
from calib.types import ImpulseResponse

SCHEMA_VERSION = 1

BIQUAD_TYPES = ("peaking", "lowshelf", "highshelf", "lowpass", "highpass", "notch", "allpass")


@dataclass(frozen=True)
class Biquad:
    """One RBJ-cookbook biquad (STANDARDS.md §7.1).

    ``kind`` is one of :data:`BIQUAD_TYPES`; ``freq_hz`` the centre/corner frequency;
    ``gain_db`` the peak/shelf gain (ignored by pass/notch/allpass); ``q`` the quality
    factor (for shelves: Q, with S=1 ~ Q=0.7071).
    """

    kind: str
    freq_hz: float
    gain_db: float = 0.0
    q: float = math.sqrt(0.5)

    def __post_init__(self) -> None:
        if self.kind not in BIQUAD_TYPES:
            raise ProfileError(f"unknown biquad type {self.kind!r}; expected one of {', '.join(BIQUAD_TYPES)}")
        if not (math.isfinite(self.freq_hz) and self.freq_hz > 0):
            raise ProfileError(f"biquad frequency must be > 0 Hz, got {self.freq_hz}")
        if not (math.isfinite(self.q) and self.q > 0):
            raise ProfileError(f"biquad Q must be > 0, got {self.q}")
        if not math.isfinite(self.gain_db) or abs(self.gain_db) > 40:
            raise ProfileError(f"biquad gain {self.gain_db} dB is outside +-40 dB")

    def sos(self, *, fs: int) -> np.ndarray:
        """Second-order section ``[b0, b1, b2, 1, a1, a2]`` at ``fs`` (Hz), normalised by a0."""
        if self.freq_hz >= fs / 2:
            raise ProfileError(f"biquad at {self.freq_hz} Hz is at or above Nyquist for fs={fs} Hz")
        A = 10.0 ** (self.gain_db / 40.0)
        w0 = 2.0 * math.pi * self.freq_hz / fs
        cw, sw = math.cos(w0), math.sin(w0)
        alpha = sw / (2.0 * self.q)
        k = self.kind
        if k == "peaking":
            b = [1 + alpha * A, -2 * cw, 1 - alpha * A]
            a = [1 + alpha / A, -2 * cw, 1 - alpha / A]
        elif k == "lowshelf":
            sa = 2 * math.sqrt(A) * alpha
            b = [A * ((A + 1) - (A - 1) * cw + sa), 2 * A * ((A - 1) - (A + 1) * cw), A * ((A + 1) - (A - 1) * cw - sa)]
            a = [(A + 1) + (A - 1) * cw + sa, -2 * ((A - 1) + (A + 1) * cw), (A + 1) + (A - 1) * cw - sa]
        elif k == "highshelf":
            sa = 2 * math.sqrt(A) * alpha
            b = [A * ((A + 1) + (A - 1) * cw + sa), -2 * A * ((A - 1) + (A + 1) * cw), A * ((A + 1) + (A - 1) * cw - sa)]
            a = [(A + 1) - (A - 1) * cw + sa, 2 * ((A - 1) - (A + 1) * cw), (A + 1) - (A - 1) * cw - sa]
        elif k == "lowpass":
            b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
            a = [1 + alpha, -2 * cw, 1 - alpha]
        elif k == "highpass":
            b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
            a = [1 + alpha, -2 * cw, 1 - alpha]
        elif k == "notch":
            b = [1.0, -2 * cw, 1.0]
            a = [1 + alpha, -2 * cw, 1 - alpha]
        else:  # allpass
            b = [1 - alpha, -2 * cw, 1 + alpha]
            a = [1 + alpha, -2 * cw, 1 - alpha]
        a0 = a[0]
        return np.array([b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "freq_hz": self.freq_hz, "gain_db": self.gain_db, "q": self.q}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Biquad":
        try:
            return cls(str(d["type"]), float(d["freq_hz"]), float(d.get("gain_db", 0.0)), float(d.get("q", math.sqrt(0.5))))
        except KeyError as exc:
            raise ProfileError(f"biquad entry lacks {exc.args[0]!r}") from None


def peq_sos(peq: tuple[Biquad, ...] | list[Biquad], *, fs: int) -> np.ndarray:
    """Cascade of biquads as an ``(n_sections, 6)`` SOS array (identity when empty)."""
    if not peq:
        return np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    return np.vstack([bq.sos(fs=fs) for bq in peq])


@dataclass(frozen=True)
class SpeakerCorrection:
    """The correction of one speaker.

    Parameters
    ----------
    name : str
        Speaker name (``"L"``, ``"R"``, ``"SUB"``...).
    output_channel : int
        0-based output channel of the monitor path.
    trim_db : float
        Level trim (dB), applied with the profile's ``preamp_db``.
    delay_s : float
        Added delay (s), sub-sample precision, >= 0.
    polarity : int
        +1 or -1.
    peq : tuple of Biquad
        Parametric EQ, used when there is no FIR for the running rate.
    fir : mapping fs -> ndarray (n_taps,)
        Complete correction FIR per sample rate (PEQ included).  Empty when PEQ-only.
    """

    name: str
    output_channel: int
    trim_db: float = 0.0
    delay_s: float = 0.0
    polarity: int = 1
    peq: tuple[Biquad, ...] = ()
    fir: Mapping[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\ \t\n"):
            raise ProfileError(f"speaker name {self.name!r} must be non-empty with no spaces or slashes")
        if self.polarity not in (1, -1):
            raise ProfileError(f"polarity must be +1 or -1, got {self.polarity}")
        if not (math.isfinite(self.delay_s) and 0 <= self.delay_s <= 1.0):
            raise ProfileError(f"delay {self.delay_s} s is outside 0..1 s")
        if not (math.isfinite(self.trim_db) and -60 <= self.trim_db <= 20):
            raise ProfileError(f"trim {self.trim_db} dB is outside -60..+20 dB")
        object.__setattr__(self, "peq", tuple(self.peq))
        firs = {}
        for fs, taps in dict(self.fir).items():
            # FIRs are stored as 32-bit float WAV and run in float32: keep exactly the taps that
            # will be stored, so the content hash of a saved-and-loaded profile is unchanged.
            arr = np.asarray(taps, dtype=np.float64).reshape(-1).astype(np.float32).astype(np.float64)
            if arr.size == 0 or not np.all(np.isfinite(arr)):
                raise ProfileError(f"FIR of speaker {self.name} at {fs} Hz is empty or not finite")
            arr.setflags(write=False)
            firs[int(fs)] = arr
        object.__setattr__(self, "fir", firs)


# Version 2: the whole profile.json and the reference IRs (version 1 covered the filters only).
HASH_VERSION = 2


def _legacy_hash_v1(prof: "CalibrationProfile") -> str:
    """The content hash profiles carried before :data:`HASH_VERSION` 2 (gains, delays,
    polarity, PEQ and FIR taps only); accepted for profiles without ``hash_version``."""
    h = hashlib.sha256()
    h.update(f"schema={prof.schema_version};preamp={prof.preamp_db!r};fs={prof.design_fs}".encode())
    for s in prof.speakers:
        h.update(json.dumps({"name": s.name, "out": s.output_channel, "trim": repr(float(s.trim_db)),
                             "delay": repr(float(s.delay_s)), "pol": s.polarity,
                             "peq": [[b.kind, repr(b.freq_hz), repr(b.gain_db), repr(b.q)] for b in s.peq]},
                            sort_keys=True).encode())
        for fs in sorted(s.fir):
            h.update(f"fir{fs}".encode())
            h.update(np.ascontiguousarray(s.fir[fs], dtype="<f8").tobytes())
    return h.hexdigest()


# Reference-IR facts ``roomtruth verify`` restores from the source measurement's
# measurement.json (how the baseline was swept); descriptive, so outside the content hash.
DERIVED_REFERENCE_META = ("sweep", "level_dbfs", "repeats")


def _canonical(obj: Any) -> Any:
    """JSON-like data in one spelling: every number as ``repr(float)`` (so 0 and 0.0, a float32
    cast and its float64 twin, a tuple and a list hash alike), NaN/Inf as None, keys as str."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, float, np.integer, np.floating)):
        v = float(obj)
        return repr(v) if math.isfinite(v) else None
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_canonical(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    return str(obj)


def _hash_document(doc: Mapping[str, Any], arrays: list[tuple[str, int, np.ndarray]]) -> str:
    """SHA-256 of a profile document (without ``content_hash``) and its sample arrays."""
    body = {k: v for k, v in doc.items() if k not in ("content_hash", "name", "provenance")}
    ref = body.get("reference")
    if isinstance(ref, Mapping):
        ref = dict(ref)
        ref["meta"] = {k: v for k, v in dict(ref.get("meta") or {}).items() if k not in DERIVED_REFERENCE_META}
        ref.pop("file", None)   # a file name; its samples are hashed below
        body["reference"] = ref
    h = hashlib.sha256()
    h.update(b"roomtruth-profile-v2\0")
    h.update(json.dumps(_canonical(body), sort_keys=True, separators=(",", ":")).encode())
    for label, fs, samples in arrays:
        arr = np.ascontiguousarray(np.asarray(samples, dtype=np.float64).astype("<f4"))
        h.update(f"\0{label}@{int(fs)}:{arr.shape}\0".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class CalibrationProfile:
    """Everything needed to run and to re-verify one room calibration.

    Parameters
    ----------
    name : str
    speakers : tuple of SpeakerCorrection
    preamp_db : float
        Common output gain (dB, <= 0 when there are boosts: headroom so the path cannot clip).
    design_fs : int
        Sample rate the correction was designed at (Hz).
    target : mapping
        Target description (``{"kind": "flat"|"house"|"file", ...}``) and range.
    tolerances : mapping
        Verification tolerances (level, per-band response, arrival time, ...).
    reference : ImpulseResponse or None
        Baseline IRs at the main seat, one channel per speaker, for verification.
    provenance : mapping
        Measurements used, settings, software version, creation time.
    schema_version : int
    """

    name: str
    speakers: tuple[SpeakerCorrection, ...]
    preamp_db: float = 0.0
    design_fs: int = 48_000
    target: Mapping[str, Any] = field(default_factory=dict)
    tolerances: Mapping[str, Any] = field(default_factory=dict)
    reference: ImpulseResponse | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    # bass management / immersive routing (calib.correction.bass.routing_table): programme
    # channels -> speaker feeds with per-path crossover filters; None = one input per speaker.
    # Written to profile.json only when present, so the whole-document hash covers it.
    routing: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "speakers", tuple(self.speakers))
        if not self.speakers:
            raise ProfileError("a profile needs at least one speaker")
        names = [s.name for s in self.speakers]
        if len(set(names)) != len(names):
            raise ProfileError(f"speaker names repeat: {names}")
        if not (math.isfinite(self.preamp_db) and -60 <= self.preamp_db <= 12):
            raise ProfileError(f"preamp {self.preamp_db} dB is outside -60..+12 dB")

    def speaker(self, name: str) -> SpeakerCorrection:
        for s in self.speakers:
            if s.name == name:
                return s
        raise ProfileError(f"profile {self.name!r} has no speaker {name!r}")

    def with_name(self, name: str) -> "CalibrationProfile":
        return replace(self, name=name)

    # ------------------------------------------------------------------ hashing
    def content_hash(self) -> str:
        """SHA-256 over everything a correction or a verdict rests on (hex, 64 chars).

        Covered: the whole of ``profile.json`` as :meth:`to_json_dict` writes it (gains, delays,
        polarity, PEQ, routing, design rate, target, tolerances, the reference's rate, channel
        names, onset, arrivals, latency, SNRs and its measured facts, and any field a later
        schema adds) plus the samples of every FIR and of the reference IRs, exactly as stored
        (float32).  Left out, because nothing is judged by them: the hash itself, the profile's
        ``name`` (a copy may be renamed), ``provenance`` (creation time, software, sources) and
        the reference's sweep facts that ``verify`` restores from the source measurement
        (:data:`DERIVED_REFERENCE_META`).
        """
        return _hash_document(self.to_json_dict(hash_field=False), self._sample_arrays())

    def _sample_arrays(self) -> list[tuple[str, int, np.ndarray]]:
        out = []
        for s in self.speakers:
            for fs in sorted(s.fir):
                out.append((f"fir:{s.name}", fs, s.fir[fs]))
        if self.reference is not None:
            out.append(("reference", self.reference.fs, self.reference.samples))
        return out

    # ------------------------------------------------------------------ disk
    def to_json_dict(self, *, hash_field: bool = True) -> dict[str, Any]:
        """The ``profile.json`` document (``hash_field=False``: without ``content_hash``)."""
        speakers = []
        for s in self.speakers:
            speakers.append(
                {
                    "name": s.name,
                    "output_channel": s.output_channel,
                    "trim_db": s.trim_db,
                    "delay_s": s.delay_s,
                    "polarity": s.polarity,
                    "peq": [b.to_dict() for b in s.peq],
                    "fir": {str(fs): f"fir_{s.name}_{fs}.wav" for fs in sorted(s.fir)},
                }
            )
        ref = None
        if self.reference is not None:
            ref = {
                "file": "reference.ir.wav",
                "fs": self.reference.fs,
                "channel_names": list(self.reference.channel_names),
                "onset_samples": self.reference.onset_samples,
                "arrival_samples": list(self.reference.arrival_samples),
                "latency_samples": self.reference.latency_samples,
                "snr_db": list(self.reference.snr_db),
                "source_id": self.reference.source_id,
                "meta": dict(self.reference.meta),
            }
        doc = {
            "schema_version": self.schema_version,
            "name": self.name,
            "content_hash": "",
            "hash_version": HASH_VERSION,
            "preamp_db": self.preamp_db,
            "design_fs": self.design_fs,
            "speakers": speakers,
            "target": dict(self.target),
            "tolerances": dict(self.tolerances),
            "reference": ref,
            "provenance": dict(self.provenance),
            **({"routing": dict(self.routing)} if self.routing is not None else {}),
        }
        if hash_field:
            doc["content_hash"] = _hash_document({k: v for k, v in doc.items() if k != "content_hash"},
                                                 self._sample_arrays())
        else:
            del doc["content_hash"]
        return doc

    def save(self, directory: str | Path, *, replace_existing: bool = False,
             extra_files: Mapping[str, str | bytes] | None = None) -> Path:
        """Write the profile folder atomically (all files or none).

        ``extra_files`` maps file names to text/bytes written into the same folder (exports).
        """
        dest = Path(directory)
        with atomic_directory(dest, replace=replace_existing) as tmp:
            for s in self.speakers:
                for fs, taps in s.fir.items():
                    write_wav_atomic(tmp / f"fir_{s.name}_{fs}.wav", taps, fs=fs)
                if self.design_fs in s.fir:
                    write_wav_atomic(tmp / f"fir_{s.name}.wav", s.fir[self.design_fs], fs=self.design_fs)
            if self.reference is not None:
                write_wav_atomic(tmp / "reference.ir.wav", self.reference.samples, fs=self.reference.fs)
            for fname, payload in (extra_files or {}).items():
                data = payload.encode("utf-8") if isinstance(payload, str) else payload
                (tmp / fname).parent.mkdir(parents=True, exist_ok=True)
                (tmp / fname).write_bytes(data)
            (tmp / "profile.json").write_text(to_json(self.to_json_dict()) + "\n", encoding="utf-8")
        return dest

    @classmethod
    def load(cls, directory: str | Path) -> "CalibrationProfile":
        """Read a profile folder; checks the schema and the stored content hash.

        Raises
        ------
        ProfileError
            Missing folder or ``profile.json``, bad JSON, unknown schema, missing FIR files,
            or a content hash that does not match the files (tampered or damaged profile).
        """
        d = Path(directory)
        pj = d / "profile.json"
        if not pj.is_file():
            raise ProfileError(f"{d} is not a profile folder (no profile.json)")
        try:
            raw = json.loads(pj.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{pj} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ProfileError(f"{pj} does not hold a JSON object")
        ver = raw.get("schema_version")
        if ver != SCHEMA_VERSION:
            raise ProfileError(f"{pj} has schema version {ver!r}; this roomtruth reads version {SCHEMA_VERSION}")
        try:
            speakers = []
            for s in raw["speakers"]:
                firs = {}
                for fs_s, fname in (s.get("fir") or {}).items():
                    data, fs = read_audio(d / fname)
                    if fs != int(fs_s):
                        raise ProfileError(f"{d / fname} is at {fs} Hz but profile.json says {fs_s} Hz")
                    firs[int(fs_s)] = data[0]
                speakers.append(
                    SpeakerCorrection(
                        name=str(s["name"]),
                        output_channel=int(s["output_channel"]),
                        trim_db=float(s.get("trim_db", 0.0)),
                        delay_s=float(s.get("delay_s", 0.0)),
                        polarity=int(s.get("polarity", 1)),
                        peq=tuple(Biquad.from_dict(b) for b in s.get("peq", [])),
                        fir=firs,
                    )
                )
            reference = None
            ref = raw.get("reference")
            if ref:
                data, fs = read_audio(d / ref["file"])
                if int(ref["fs"]) != fs:
                    raise ProfileError(f"{d / ref['file']} is at {fs} Hz but profile.json says {ref['fs']} Hz")
                reference = ImpulseResponse(
                    samples=data,
                    fs=fs,
                    channel_names=tuple(ref["channel_names"]),
                    onset_samples=int(ref.get("onset_samples", 0)),
                    arrival_samples=tuple(ref.get("arrival_samples", ())),
                    latency_samples=float(ref.get("latency_samples", 0.0)),
                    snr_db=tuple(float("nan") if v is None else v for v in ref.get("snr_db", ())),
                    source_id=str(ref.get("source_id", "")),
                    meta=ref.get("meta", {}) or {},
                )
            prof = cls(
                name=str(raw["name"]),
                speakers=tuple(speakers),
                preamp_db=float(raw.get("preamp_db", 0.0)),
                design_fs=int(raw.get("design_fs", 48_000)),
                target=raw.get("target") or {},
                tolerances=raw.get("tolerances") or {},
                reference=reference,
                provenance=raw.get("provenance") or {},
                schema_version=int(ver),
                routing=raw.get("routing"),
            )
        except SignalError as exc:
            raise ProfileError(f"profile {d}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{pj} is malformed: {exc!r}") from None
        stored = raw.get("content_hash")
        if not isinstance(stored, str) or not stored:
            raise ProfileError(
                f"{pj} carries no content hash, so nothing proves its filters, trims, tolerances and "
                "reference are the ones designed; re-create it with 'roomtruth correct'")
        if "hash_version" not in raw and stored == _legacy_hash_v1(prof):
            # written before hash version 2 (the hash then covered the filters only): still
            # valid, so existing workspaces keep working; a new 'correct' gives the full cover
            return prof
        # the document as stored proves itself (a later roomtruth that writes profile.json with
        # more keys must not refuse the files this one wrote); else the re-serialised profile
        if stored != _hash_document(raw, prof._sample_arrays()) and stored != prof.content_hash():
            raise ProfileError(
                f"profile {d} does not match its recorded content hash (profile.json or its FIR/reference "
                "files changed or are damaged); re-create it with 'roomtruth correct'"
            )
        return prof
